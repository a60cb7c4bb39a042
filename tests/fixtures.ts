import { fileURLToPath } from 'node:url';
import { fixtureAvailable } from './missingFixture';

/** The shared real-world fixtures beside the project; tests that need them skip with this message when absent (fail under CI). */
export const FIXTURES = fileURLToPath(new URL('../../shared/fixtures', import.meta.url));
export const hasFixtures = fixtureAvailable(FIXTURES);
export const SKIP_FIXTURES = `skipped: ${FIXTURES} (../shared/fixtures) is absent`;

/** Tiny VGG's classes in output order, and the file-name prefixes of the tinyimagenet10 photos. */
export const TINYVGG_CLASSES = ['lifeboat', 'ladybug', 'pizza', 'bell pepper', 'school bus', 'koala', 'espresso', 'red panda', 'orange', 'sport car'];
export const TINYVGG_PREFIX: Record<string, string> = {
  boat: 'lifeboat', bug: 'ladybug', pizza: 'pizza', pepper: 'bell pepper', bus: 'school bus',
  koala: 'koala', espresso: 'espresso', panda: 'red panda', orange: 'orange', car: 'sport car',
};
