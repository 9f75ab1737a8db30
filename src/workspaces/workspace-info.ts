import type { FrozenLayer } from './workspace-layers.ts';

export interface WorkspaceInfo {
  name: string;
  image: string;
  createdAt: string;
  lastRunAt: string | undefined;
  /** The stored version this host's layer was restored from or last synced as. */
  remoteVersion?: number;
  /**
   * The size of the workspace's disk (its layer's filesystem). Absent for workspaces without a
   * disk (made before disks existed, and their forks): their layer is a plain directory on the
   * host's disk, without a limit.
   */
  diskMiB?: number;
  /**
   * Read-only layers below the workspace's own upper layer, the top-most first: its own layers
   * frozen by forks, then those of the workspace it was forked from. Absent: none.
   */
  lowerLayers?: FrozenLayer[];
  /** The workspace this one was forked from (storage name). */
  forkedFrom?: string;
}

export interface WorkspaceLocation {
  directory: string;
  /** Held exclusively by the one sandbox writing the workspace, shared by read-only users. */
  lockPath: string;
}

export interface WorkspacePaths extends WorkspaceLocation {
  /** Where the layers live: the disk's mount point (or, without a disk, the directory itself). */
  layerDirectory: string;
  /** The overlay upper directory: everything the sandbox wrote. */
  upperDir: string;
  workDir: string;
}

/** A workspace's chain of read-only layers, resolved to directories (`WorkspaceStore.open`). */
export interface OpenChain {
  /**
   * Read-only layers below `upperDir`, the top-most first: a fork's chain of frozen layers (its
   * own, then its sources'), each source's disk mounted. Empty for a workspace that is not a fork.
   */
  lowerDirs: string[];
  /** The same, each with a key naming the layer (`workspace/layer`), stable while it exists. */
  chain: Array<{ directory: string; key: string }>;
  /** Held shared by a sandbox reading the chain: the source workspaces cannot go meanwhile. */
  layerLockPaths: string[];
}

/** An opened workspace: its own layers, and the read-only chain below them. */
export interface OpenWorkspace extends WorkspacePaths, OpenChain {
  info: WorkspaceInfo;
}
