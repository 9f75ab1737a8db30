/**
 * Upload facts that zod-free code needs too (the upload store runs in the CLI's embedded job
 * system, which does not load the schemas): `UploadIdSchema` validates with the same pattern.
 */

/** `upl_` and 16 base64url characters, as the upload store makes them. */
export const uploadIdPattern = /^upl_[A-Za-z0-9_-]{1,40}$/;

/** The largest file one upload (or a sandbox file upload) carries by default: 1 GiB. */
export const defaultMaxUploadBytes = 1024 ** 3;
