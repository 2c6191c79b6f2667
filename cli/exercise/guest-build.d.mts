// Types of guest-build.mjs (the reproducible nasm/C guest build shared by scripts/build-samples.mjs and `vmscope test`).
export declare class GuestBuildError extends Error {}
export declare function hasGuestSources(dir: string): boolean;
export declare function buildGuest(src: string, name: string, outDir: string): string[];
