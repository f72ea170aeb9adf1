import { TECHNICIAN_TEXT } from './technician-text.js';

export type Language = 'en' | 'zh-CN';
export const LANGUAGES: readonly Language[] = ['en', 'zh-CN'];

/** Every text the cashier console shows, in both languages (data, not scattered strings). */
const CASHIER_TEXT = {
  title: { en: 'Cashier', 'zh-CN': '收银台' },
  host: { en: 'host', 'zh-CN': '主机' },
  saf: { en: 'SAF', 'zh-CN': '离线队列' },
  printer: { en: 'printer', 'zh-CN': '打印机' },
  reader: { en: 'reader', 'zh-CN': '读卡器' },
  sale: { en: 'Sale', 'zh-CN': '消费' },
  refund: { en: 'Refund', 'zh-CN': '退货' },
  void: { en: 'Void', 'zh-CN': '撤销' },
  reprint: { en: 'Reprint last receipt', 'zh-CN': '重打上一张小票' },
  find: { en: 'Find a transaction', 'zh-CN': '查询交易' },
  lastDecline: { en: 'Last decline explained', 'zh-CN': '最近一次拒绝原因' },
  language: { en: 'Language: 中文', 'zh-CN': 'Language: English' },
  technician: { en: 'Technician menu', 'zh-CN': '维护菜单' },
  choose: { en: 'Press a key.', 'zh-CN': '请按键选择。' },
  menu: { en: 'Menu', 'zh-CN': '功能菜单' },
  idleHint: {
    en: 'Type the amount and Enter to ring up a sale (Esc clears). F1 or m: menu.',
    'zh-CN': '输入金额后按回车收款 (Esc 清除)。F1 或 m：功能菜单。',
  },
  idleAmount: { en: 'Sale amount ({currency}): ', 'zh-CN': '消费金额 ({currency}): ' },
  holdHint: {
    en: 'Back to amount entry in {seconds} s, or press a key.',
    'zh-CN': '{seconds} 秒后返回收款界面，或按任意键。',
  },
  amountPrompt: { en: 'Amount ({currency}), Esc to go back: ', 'zh-CN': '金额 ({currency})，Esc 返回: ' },
  cancelHint: { en: 'Esc cancels while waiting for the card.', 'zh-CN': '等待刷卡时按 Esc 取消。' },
  'waiting-for-card': { en: 'Waiting for card...', 'zh-CN': '请刷卡/插卡/挥卡...' },
  'card-read': { en: 'Card read.', 'zh-CN': '已读卡。' },
  'entering-pin': { en: 'Customer entering PIN...', 'zh-CN': '持卡人输入密码...' },
  'sending-pending-reversal': { en: 'Sending pending reversal...', 'zh-CN': '正在发送待冲正交易...' },
  'waiting-for-host': { en: 'Waiting for host...', 'zh-CN': '正在连接主机...' },
  printing: { en: 'Printing...', 'zh-CN': '正在打印...' },
  cancelling: { en: 'Cancelling...', 'zh-CN': '正在取消...' },
  cancelTooLate: {
    en: 'Cannot cancel: the request is already with the host. Wait for the answer; void the sale afterwards if needed.',
    'zh-CN': '无法取消：请求已发往主机。请等待结果，如需撤回请随后做撤销。',
  },
  cancelled: { en: 'CANCELLED', 'zh-CN': '已取消 CANCELLED' },
  notVoidable: { en: 'Cannot void this payment', 'zh-CN': '此交易不能撤销' },
  approved: { en: 'APPROVED', 'zh-CN': '交易成功 APPROVED' },
  voided: { en: 'VOIDED', 'zh-CN': '已撤销 VOIDED' },
  refundApproved: { en: 'REFUND APPROVED', 'zh-CN': '退货成功 REFUND APPROVED' },
  offline: { en: 'OFFLINE (forwarded when the host is back)', 'zh-CN': '离线 (主机恢复后上送)' },
  declined: { en: 'DECLINED', 'zh-CN': '交易拒绝 DECLINED' },
  receiptPrinted: { en: 'Receipt printed.', 'zh-CN': '小票已打印。 Receipt printed.' },
  receiptNotPrinted: { en: 'Receipt NOT printed', 'zh-CN': '小票未打印' },
  whatToDo: { en: 'What to do', 'zh-CN': '处理建议' },
  tellCustomer: { en: 'Tell the customer', 'zh-CN': '告知顾客' },
  reason: { en: 'Reason', 'zh-CN': '原因' },
  code: { en: 'Code', 'zh-CN': '代码' },
  anyKey: { en: 'Press any key.', 'zh-CN': '按任意键继续。' },
  noTransaction: { en: 'No transaction yet.', 'zh-CN': '暂无交易。' },
  noDecline: { en: 'No decline so far.', 'zh-CN': '暂无拒绝交易。' },
  findBy: { en: 'Find by', 'zh-CN': '查询条件' },
  byAmount: { en: 'Amount', 'zh-CN': '金额' },
  byTime: { en: 'Time range (today, HH:MM-HH:MM)', 'zh-CN': '时间段 (今天, HH:MM-HH:MM)' },
  byLast4: { en: 'Card last four digits', 'zh-CN': '卡号后四位' },
  byAuth: { en: 'Authorization code', 'zh-CN': '授权码' },
  byRrn: { en: 'RRN (reference number)', 'zh-CN': '参考号 RRN' },
  back: { en: 'Back', 'zh-CN': '返回' },
  valuePrompt: { en: 'Value: ', 'zh-CN': '输入: ' },
  invalid: { en: 'Not valid', 'zh-CN': '输入无效' },
  results: { en: 'Matching transactions', 'zh-CN': '符合条件的交易' },
  noResults: { en: 'No matching transaction.', 'zh-CN': '没有符合条件的交易。' },
  pickResult: { en: 'Number to reprint its receipt, Esc to go back.', 'zh-CN': '输入序号重打小票，Esc 返回。' },
  voidPrompt: { en: 'Transaction number to void (see Find), Esc to go back: ', 'zh-CN': '要撤销的交易号 (见查询)，Esc 返回: ' },
  voidConfirm: { en: 'Enter to void this payment, Esc to keep it: ', 'zh-CN': '按回车撤销此交易，Esc 保留: ' },
  refundOriginal: { en: 'Original sale number (Enter if unknown): ', 'zh-CN': '原消费交易号 (不知道请直接回车): ' },
  unavailable: { en: 'Not available on this terminal', 'zh-CN': '本终端暂不支持' },
  error: { en: 'Error', 'zh-CN': '错误' },
  'retry-online': {
    en: 'Retry: the host is answering; ringing it again sends a new sale to the host',
    'zh-CN': '重试：主机正在应答，重新收款将作为新交易发送主机',
  },
  'retry-offline': {
    en: 'Retry: approved offline now (host link down), within the offline limits',
    'zh-CN': '重试：主机连接中断，现在重新收款将在离线限额内离线批准',
  },
  'retry-other-method': {
    en: 'Retry: host link down and this payment cannot be approved offline - ask for another payment method',
    'zh-CN': '重试：主机连接中断，此笔无法离线批准，请顾客换其他支付方式',
  },
  bye: { en: 'Goodbye.', 'zh-CN': '再见。' },
  operator: { en: 'operator', 'zh-CN': '操作员' },
  signInTitle: { en: 'Sign in', 'zh-CN': '签到' },
  signInPrompt: { en: 'Operator number (1-4 digits), then Enter: ', 'zh-CN': '请输入操作员号 (1-4 位数字) 后按回车: ' },
  supervisorPrompt: { en: 'Supervisor PIN (Esc to go back): ', 'zh-CN': '请输入主管密码 (Esc 返回): ' },
  supervisorWrong: {
    en: 'Wrong supervisor PIN. {attempts} attempt(s) left before it locks.',
    'zh-CN': '主管密码错误，还可再试 {attempts} 次。',
  },
  supervisorLocked: {
    en: 'Supervisor PIN LOCKED after repeated wrong PINs. Try again in {seconds} s.',
    'zh-CN': '主管密码多次输入错误，已锁定，请 {seconds} 秒后再试。',
  },
  supervisorMissing: {
    en: 'No supervisor PIN is set up on this terminal (ui.supervisorPinHash); call your technician.',
    'zh-CN': '本终端未设置主管密码 (ui.supervisorPinHash)，请联系维护人员。',
  },
  unreferencedNote: {
    en: "No original sale: this refund is marked as made without its original, on the supervisor's authority.",
    'zh-CN': '无原交易：此笔退货将标注为无原交易退货，需主管授权。',
  },
  refundOf: { en: 'Refund {amount} of', 'zh-CN': '退货 {amount}，原交易' },
  refundConfirm: { en: 'Enter to refund, Esc to go back: ', 'zh-CN': '按回车确认退货，Esc 返回: ' },
  voidOf: { en: 'Void {amount}:', 'zh-CN': '撤销 {amount}：' },
  notCompleted: { en: 'NOT COMPLETED', 'zh-CN': '交易未完成 NOT COMPLETED' },
  notCharged: { en: 'Nothing was charged.', 'zh-CN': '未扣款。' },
  cannotSell: { en: 'Cannot start a sale', 'zh-CN': '暂不能收款' },
  'blocked-reader': {
    en: 'the card reader is not connected - check its cable',
    'zh-CN': '读卡器未连接，请检查连线',
  },
  'blocked-paper': { en: 'the printer is out of paper - load paper', 'zh-CN': '打印机缺纸，请装纸' },
  'blocked-cover': { en: 'the printer cover is open - close it', 'zh-CN': '打印机纸仓盖打开，请合上' },
  secondsLeft: { en: '{seconds} s', 'zh-CN': '{seconds} 秒' },
  nextPage: { en: 'next page', 'zh-CN': '下一页' },
  prevPage: { en: 'previous page', 'zh-CN': '上一页' },
  page: { en: 'page {page}', 'zh-CN': '第 {page} 页' },
  category: { en: 'Category', 'zh-CN': '类别' },
  transaction: { en: 'transaction', 'zh-CN': '交易号' },
  authCode: { en: 'auth', 'zh-CN': '授权码' },
  'void-is-type': { en: 'it is a {type}', 'zh-CN': '这是一笔{type}交易' },
  'void-not-approved': {
    en: 'it is {state}; only sales approved online can be voided',
    'zh-CN': '此交易{state}，只有联机成功的消费才能撤销',
  },
  'void-batch-closed': { en: 'its batch is closed', 'zh-CN': '该批次已结算' },
  'void-has-refunds': {
    en: 'it has refunds; refund the rest instead',
    'zh-CN': '该笔消费已有退货，请对剩余金额做退货',
  },
  'void-no-reference': { en: 'the host reference is missing', 'zh-CN': '缺少主机参考号' },
  xReport: { en: 'X report (batch totals so far)', 'zh-CN': '交易汇总 (当前批次)' },
  lastSettlement: { en: 'Last settlement report', 'zh-CN': '上次结算报告' },
  batch: { en: 'Batch {batch}', 'zh-CN': '批次号 {batch}' },
  openedAt: { en: 'open since {at}', 'zh-CN': '开始于 {at}' },
  closedAt: { en: 'closed {at}', 'zh-CN': '结算于 {at}' },
  sales: { en: 'Sales', 'zh-CN': '消费' },
  refunds: { en: 'Refunds', 'zh-CN': '退货' },
  voids: { en: 'Voids', 'zh-CN': '撤销' },
  net: { en: 'Net', 'zh-CN': '净额' },
  offlinePending: {
    en: '{count} offline sale(s) not yet accepted by the host (not in the totals)',
    'zh-CN': '{count} 笔离线消费尚未被主机接受 (未计入汇总)',
  },
  undecided: {
    en: '{count} payment(s) still with the host or being reversed (not in the totals)',
    'zh-CN': '{count} 笔交易仍在等待主机或冲正中 (未计入汇总)',
  },
  xReportNote: { en: 'Nothing is closed or sent by this report.', 'zh-CN': '本查询不结算，也不上送。' },
  inBalance: { en: 'IN BALANCE with the host', 'zh-CN': '对账平' },
  outOfBalance: { en: 'OUT OF BALANCE with the host - call your technician', 'zh-CN': '对账不平，请联系维护人员' },
  catchUp: {
    en: 'Catch-up settlement (the terminal was off at its time), closing business day {day}',
    'zh-CN': '补结算 (结算时终端未开机)，结算日期 {day}',
  },
  noSettlement: { en: 'No batch has been settled yet.', 'zh-CN': '尚无结算记录。' },
  'amount-decimals': { en: '{currency} allows {places} decimal places', 'zh-CN': '{currency} 金额最多 {places} 位小数' },
  'amount-not-number': {
    en: '"{text}" is not an amount (digits with an optional decimal point)',
    'zh-CN': '"{text}" 不是金额 (请输入数字，可带小数点)',
  },
  'amount-zero': { en: 'the amount must be more than zero', 'zh-CN': '金额必须大于零' },
  'amount-over-limit': { en: 'over the terminal limit {limit}', 'zh-CN': '超过终端单笔限额 {limit}' },
  'refund-exceeds': {
    en: 'refund {requested} is more than the {refundable} still refundable on #{id}',
    'zh-CN': '退货金额 {requested} 超过交易 #{id} 可退余额 {refundable}',
  },
  'not-refundable': { en: 'transaction #{id} cannot be refunded: {reason}', 'zh-CN': '交易 #{id} 不能退货：{reason}' },
  'refund-not-approved': {
    en: 'it is {state}; only paid sales can be refunded',
    'zh-CN': '此交易{state}，只有已付款的消费才能退货',
  },
  'not-voidable': { en: 'transaction #{id} cannot be voided: {reason}', 'zh-CN': '交易 #{id} 不能撤销：{reason}' },
  'payment-in-progress': { en: 'a payment is already in progress', 'zh-CN': '已有交易正在进行' },
  'customer-approved': { en: 'APPROVED', 'zh-CN': '交易成功' },
  'customer-declined': { en: 'DECLINED', 'zh-CN': '交易失败' },
  'customer-not-completed': { en: 'NOT COMPLETED', 'zh-CN': '交易未完成' },
  'customer-not-charged': { en: 'Not charged', 'zh-CN': '未扣款' },
  'customer-cancelled': { en: 'CANCELLED', 'zh-CN': '交易已取消' },
  'customer-idle': { en: 'WELCOME', 'zh-CN': '欢迎光临' },
} as const;

/** The one catalog of the console: the cashier's screens and the technician menu's. */
const TEXT = { ...CASHIER_TEXT, ...TECHNICIAN_TEXT } as const satisfies Record<string, Record<Language, string>>;

export type TextKey = keyof typeof TEXT;

/** Device and link states as the status line shows them in Chinese; anything else stays as reported. */
const STATE_ZH: Record<string, string> = {
  online: '在线',
  offline: '离线',
  degraded: '不稳定',
  ready: '就绪',
  connected: '已连接',
  connecting: '连接中',
  disconnected: '未连接',
  'paper out': '缺纸',
  'paper low': '纸将尽',
  'cover open': '纸仓盖打开',
  'not answering': '无响应',
  unknown: '未知',
  error: '故障',
  waiting: '待打印',
};

export function stateWord(lang: Language, state: string): string {
  if (lang === 'en') return state;
  return state.replace(/paper out|paper low|cover open|not answering|[a-z]+/g, (w) => STATE_ZH[w] ?? w);
}

export function t(lang: Language, key: TextKey, vars: Record<string, string> = {}): string {
  return TEXT[key][lang].replace(/\{(\w+)\}/g, (m, name: string) => vars[name] ?? m);
}
