// $VAR and ${VAR} expansion over the whole config text, as Go's os.ExpandEnv does it:
// an unset variable becomes the empty string.

export function expandEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced?: string, bare?: string) => {
    return env[(braced ?? bare)!] ?? '';
  });
}
