// Hostile guest code in long mode: a quarter of the million random instruction streams (see random-streams.ts).
import { describe } from 'vitest';
import { randomStreamsTest } from './random-streams.js';

describe('random instruction streams', () => randomStreamsTest('long'));
