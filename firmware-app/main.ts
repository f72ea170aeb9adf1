#!/usr/bin/env node
// First: refuses an unsupported Node.js before a native module can crash on it.
import './runtime-check.js';
// Second, and the only other static import: the compile cache must be on before the modules it serves are compiled.
import { enableCompileCache } from './compile-cache.js';

const compileCache = enableCompileCache(process.env);
const { runTerminal } = await import('./run-terminal.js');
runTerminal(process.argv.slice(2), { compileCache });
