/**
 * The preload (sandboxed, context-isolated): exposes the typed, allow-listed bridge of bridge.ts
 * as `window.sluice`. The page never sees ipcRenderer. Built by desktop/launch.js into
 * desktop/dist/preload.cjs (a sandboxed preload must be one CommonJS file).
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createBridge, versionFromArgv } from './bridge.ts';

contextBridge.exposeInMainWorld('sluice', createBridge((channel, ...args) => ipcRenderer.invoke(channel, ...args), versionFromArgv(process.argv)));
