// Side-effect-free inspection views for the debugger's custom requests (vmscope/vmcs, ept, pageWalk, virtio, exits) and the Registers view: plain JSON-compatible data.
export { vmcsView, memoryTypeName, type VmcsView, type VmcsFieldView, type VmcsBitView, type VmcsSnapshot } from './view-vmcs.js';
export {
  eptView, eptMappings, eptTranslate, eptWalk, decodeEptEntry, EPT_LEVEL_NAMES, EPT_VIEW_MAX_ENTRIES,
  type EptAccess, type EptpView, type EptEntryView, type EptTableView, type EptMapping, type EptMappingsView,
  type EptTranslateStep, type EptTranslateResult, type EptTranslateView,
} from './view-ept.js';
export { pageWalkView, type PageWalkView, type PagingMode, type GuestLevelView, type GuestEntryDecoded, type PageWalkStop, type EptWalkView } from './view-pagewalk.js';
export { exitsView, statsView, type ExitsView, type ExitEntryView, type ExitStatsView, type ExitStatsRow } from './view-exits.js';
export { virtioView, VIRTIO_VIEW_EVENTS, type VirtioView, type VirtioDeviceOut, type VirtioQueueRingsView } from './view-virtio.js';
export { registersView } from './view-registers.js';
export { ViewError, hex } from './view-format.js';
