/** A project record for tests that need one without running an import (shared with src/). */
export { projectRecord } from '../../src/state/record-fixtures.ts';
