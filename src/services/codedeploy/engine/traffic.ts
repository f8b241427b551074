/**
 * How traffic moves under a deployment config: the weights the target version (or green task set)
 * gets in turn, and how long to wait after each before the next. Pure, unit-tested.
 */
import type { TrafficRoutingConfig } from '../api.generated.js';

export interface TrafficStep {
  /** Percent of traffic on the new version after this step. */
  weight: number;
  /** Minutes to wait after this step before the next (0 after the last). */
  waitMinutes: number;
}

export function trafficSteps(config: TrafficRoutingConfig | undefined): TrafficStep[] {
  if (config?.type === 'TimeBasedCanary' && config.timeBasedCanary) {
    const { canaryPercentage = 10, canaryInterval = 5 } = config.timeBasedCanary;
    return [
      { weight: canaryPercentage, waitMinutes: canaryInterval },
      { weight: 100, waitMinutes: 0 },
    ];
  }
  if (config?.type === 'TimeBasedLinear' && config.timeBasedLinear) {
    const { linearPercentage = 10, linearInterval = 1 } = config.timeBasedLinear;
    const steps: TrafficStep[] = [];
    for (let w = linearPercentage; w < 100; w += linearPercentage) steps.push({ weight: w, waitMinutes: linearInterval });
    steps.push({ weight: 100, waitMinutes: 0 });
    return steps;
  }
  return [{ weight: 100, waitMinutes: 0 }];
}
