/** Registers every built-in source once. Importing this module twice registers nothing twice (ES modules evaluate once). */
import { sources } from '../components.ts';

export { sources };
