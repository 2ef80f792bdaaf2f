/** The preload bridge, when the renderer runs inside the Electron shell (absent in a browser). */
import type { SluiceBridge } from '../../../bridge.ts';

declare global {
  interface Window {
    sluice?: SluiceBridge;
  }
}

export function bridge(): SluiceBridge | null {
  return typeof window !== 'undefined' && window.sluice?.kind === 'electron' ? window.sluice : null;
}
