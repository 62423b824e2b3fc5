// The one error a bad configuration raises: the CLI turns it into exit 2 and one line on stderr.

export class ConfigError extends Error {
  override name = 'ConfigError';
}
