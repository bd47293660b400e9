/** The repository layer on the memory backend (with its cold-class emulation). */
import { MemoryStorage } from '../../src/index.js';
import { repositoryChainSuite } from './chain-suite.js';

repositoryChainSuite('memory', async () => new MemoryStorage({ cold: true }), { cold: true });
