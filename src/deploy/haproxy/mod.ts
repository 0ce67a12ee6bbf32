/** The haproxy edge config of `meridian plan` (being built; replaced by the real generator). */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Generator } from '../types.js';

export const planHaproxy: Generator = () => {
  throw new MeridianError(ErrorCode.InvalidArgument, 'the haproxy edge config generator is not built yet');
};
