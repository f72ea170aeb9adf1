// Preloaded with `node --import`: appends the URL of every module the process loads to the
// file named by LOAD_RECORD_FILE, so a test can see which of the project's files a start loads.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import process from 'node:process';

const file = process.env.LOAD_RECORD_FILE;
if (file) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(file, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}
