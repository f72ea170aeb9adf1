import { deriveInitialKey } from './dukpt.js';

/**
 * TEST-ONLY keys of the simulated reader and host, published in docs/protocols so anyone
 * can check a worked example. The BDK is the sample BDK of ANSI X9.24-3-2017 Annex B and
 * the initial key ID its sample ID: public values that must never protect a real card.
 */
export const TEST_BDK = Buffer.from('FEDCBA9876543210F1F1F1F1F1F1F1F1', 'hex');
export const TEST_INITIAL_KEY_ID = Buffer.from('1234567890123456', 'hex');

/** What the simulated reader is injected with: its initial key, never the BDK. */
export const TEST_READER_INITIAL_KEY = deriveInitialKey(TEST_BDK, TEST_INITIAL_KEY_ID);
