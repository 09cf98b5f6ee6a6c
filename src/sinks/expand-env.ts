/**
 * `${VAR}` and `${VAR:-default}` in sink params that carry secrets (HTTP headers, a PostgreSQL
 * url), expanded from the environment when the backend is built, so a token never has to sit in
 * the config file; `$${` writes a literal `${`. Pure over the env it is given.
 */
const REF = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Names referenced without a default and unset in `env`: each is a config problem. */
export function missingEnv(text: string, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(REF)) if (!m[1] && m[3] === undefined && env[m[2]!] === undefined) out.push(m[2]!);
  return out;
}

export function expandEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(REF, (whole, escaped: string, name: string, def: string | undefined) => {
    if (escaped) return whole.slice(1);
    const v = env[name];
    // as in the shell, `:-` also replaces an empty value
    return def !== undefined && !v ? def : (v ?? '');
  });
}
