/** How the host's totals compared with the terminal's at the close. */
export type SettlementResult = 'in_balance' | 'out_of_balance';

/** A batch number as the host, the report and the cashier's messages show it. */
export const batchLabel = (n: number) => String(n).padStart(6, '0');
