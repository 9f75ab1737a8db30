/**
 * The git identity a host gives every sandbox it starts, from `MAGS_GIT_NAME` and `MAGS_GIT_EMAIL`
 * in the environment of `mags server` (or of the CLI running in-process): git's
 * GIT_AUTHOR_* and GIT_COMMITTER_* variables, which win over the image's default
 * (`mags <mags@localhost>`, /etc/gitconfig) and over any git config inside the sandbox; a run's
 * own `--env GIT_AUTHOR_NAME=...` wins over them. Unset: nothing, and the image's default applies.
 */
export function hostGitIdentity(
  environment: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const identity: Record<string, string> = {};
  const name = environment.MAGS_GIT_NAME?.trim();
  const email = environment.MAGS_GIT_EMAIL?.trim();
  if (name) {
    identity.GIT_AUTHOR_NAME = name;
    identity.GIT_COMMITTER_NAME = name;
  }
  if (email) {
    identity.GIT_AUTHOR_EMAIL = email;
    identity.GIT_COMMITTER_EMAIL = email;
  }
  return identity;
}
