/** The Nebula VPN mesh of `meridian plan` (being built; replaced by the real generator). */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Generator } from '../types.js';

export const planVpn: Generator = () => {
  throw new MeridianError(ErrorCode.InvalidArgument, 'the Nebula VPN mesh generator is not built yet');
};
