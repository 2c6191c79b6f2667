// Types of scripts/code-server.mjs for the TypeScript e2e tests.
export declare const CODE_SERVER_VERSION: string;
export declare const DEFAULT_CACHE: string;
export declare const APT_PACKAGES: string[];
export declare const STABLE_SETTINGS: Record<string, unknown>;
export declare function codeServerPackage(dir?: string): string;
export declare function isInstalled(dir?: string): boolean;
export declare function installCodeServer(dir?: string, opts?: { log?: (s: string) => void }): string;
export declare function freePort(): Promise<number>;
export declare function killTree(pid: number): Promise<void>;
export interface CodeServer {
  /** http://127.0.0.1:PORT/?folder=WORKSPACE */
  url: string;
  port: number;
  /** The temp folder with user data, extensions, config and XDG folders (removed by stop()). */
  home: string;
  pid: number;
  /** code-server's stdout and stderr so far. */
  output(): string;
  /** Ends code-server and every child process, then removes `home`. */
  stop(): Promise<void>;
}
export declare function startCodeServer(o: { workspace: string; vsix?: string; port?: number; dir?: string; settings?: Record<string, unknown>; log?: (s: string) => void }): Promise<CodeServer>;
