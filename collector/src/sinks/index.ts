/** Registers every built-in sink once. */
import { sinks } from '../components.ts';

export { sinks };
