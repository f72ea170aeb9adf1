import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { campaignPassed, formatReport, runCampaign } from './campaign.js';

const USAGE = `usage: npm run chaos -- [--kills N] [--sales N] [--seed S] [--json]

Runs the crash campaign: N sales through the built terminal against the simulator, with host
and serial faults and SIGKILLs at random moments, then reconciles journal and host ledger.
The seed is printed; the same seed replays the same schedule. Exit status 0 = nothing lost,
duplicated or left unreversed; 1 = a finding (the report says which); 2 = usage.`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        kills: { type: 'string' },
        sales: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const kills = Number(values.kills ?? 10);
  const sales = Number(values.sales ?? 300);
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : Number(values.seed);
  if (![kills, sales, seed].every((n) => Number.isSafeInteger(n) && n >= 0) || kills > sales) {
    process.stderr.write(`--kills, --sales and --seed must be whole numbers, kills <= sales\n${USAGE}\n`);
    return 2;
  }
  process.stdout.write(`seed ${seed}\n`);
  const report = await runCampaign({ seed, sales, kills, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${values.json ? JSON.stringify(report) : formatReport(report)}\n`);
  return campaignPassed(report) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
