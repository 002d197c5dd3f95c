// The hub's full-disk episodes: the log's store and its Merkle tree report each write refused for
// lack of space and each write that succeeds, so the hub logs `log.storage-full` once when its
// data directory fills up, `log.storage-recovered` when writes succeed again, and counts the
// refused writes (elfe_storage_full_total). One per process: a process runs one hub.
import { StorageEpisodes } from '../../../connectors/kit/storageFull.ts';

export { asStorageFull, isStorageFull, StorageFullError } from '../../../connectors/kit/storageFull.ts';

export const logStorage = new StorageEpisodes();
