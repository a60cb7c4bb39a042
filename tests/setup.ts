// Runs before each unit-test file (vitest.config.ts's setupFiles).
import { afterAll } from 'vitest';
import { removeTempDirs } from './tempDir';

afterAll(removeTempDirs);
