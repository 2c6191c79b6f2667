// The Node entry of the extension: the debug adapter inline in the extension host (default), as the bundled adapter process, or a --server=PORT socket.
import * as vscode from 'vscode';
import { createSession } from '../../debug-adapter/session.js';
import { nodeHost } from '../../debug-adapter/node-host.js';
import { activateCommon } from './activate.js';
import { adapterChoice } from './adapter-mode.js';

export function activate(context: vscode.ExtensionContext): void {
  const factory: vscode.DebugAdapterDescriptorFactory = {
    createDebugAdapterDescriptor(): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
      const cfg = vscode.workspace.getConfiguration('vmscope.adapter');
      const { choice, warning } = adapterChoice(cfg.get('mode'), cfg.get('port'));
      if (warning !== undefined) void vscode.window.showWarningMessage(warning);
      switch (choice.mode) {
        case 'inline': return new vscode.DebugAdapterInlineImplementation(createSession(nodeHost()));
        case 'process':
          // dist/adapter.js is the same adapter bundled as a program (DAP over stdio); the extension host's
          // runtime runs it as plain Node (ELECTRON_RUN_AS_NODE for VS Code desktop's Electron).
          return new vscode.DebugAdapterExecutable(process.execPath, [vscode.Uri.joinPath(context.extensionUri, 'dist', 'adapter.js').fsPath], { env: { ELECTRON_RUN_AS_NODE: '1' } });
        case 'server': return new vscode.DebugAdapterServer(choice.port, '127.0.0.1');
      }
    },
  };
  activateCommon(context, { adapterFactory: factory });
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
