/** The Kubernetes manifests of `meridian plan` (being built; replaced by the real generator). */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Generator } from '../types.js';

export const planK8s: Generator = () => {
  throw new MeridianError(ErrorCode.InvalidArgument, 'the Kubernetes manifests generator is not built yet');
};
