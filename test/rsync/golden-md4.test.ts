import { SIG_KINDS } from '../helpers/corpus.js';
import { goldenSuite } from './golden-suite.js';

goldenSuite(SIG_KINDS.filter((k) => k.strong === 'md4'));
