/**
 * Who may enter a stage. A stage is entered when its inbound transition (and the previous stage's
 * outbound one) is enabled and, unless the pipeline runs PARALLEL, no other execution is in it.
 * Executions waiting at a gate: in SUPERSEDED mode only the newest waits (an older one waiting at
 * the same gate is Superseded); in QUEUED mode they enter one by one in arrival order.
 */
import type { Live } from './engine.js';
import type { CodepipelineStore, Scope } from './store.js';

export interface Transition {
  enabled: boolean;
  reason?: string;
  by?: string;
  at?: number;
}

type Outcome = 'enter' | 'superseded' | 'stopped';

interface Waiter {
  live: Live;
  stage: number;
  resolve(r: Outcome): void;
}

interface PipelineGates {
  occupants: Map<number, string>;
  waiters: Waiter[];
  transitions: Record<string, Transition>;
}

const keyOf = (s: Scope, pipeline: string) => `${s.account}|${s.region}|${pipeline}`;

export class Gates {
  private pipelines = new Map<string, PipelineGates>();

  constructor(private store: CodepipelineStore) {}

  private get(s: Scope, pipeline: string): PipelineGates {
    const key = keyOf(s, pipeline);
    let g = this.pipelines.get(key);
    if (!g) {
      const row = this.store.pipeline(s, pipeline);
      g = { occupants: new Map(), waiters: [], transitions: row ? JSON.parse(row.transitions) : {} };
      this.pipelines.set(key, g);
    }
    return g;
  }

  private of(live: Live) {
    return this.get(live.row, live.row.pipeline);
  }

  enter(live: Live, stage: number): Promise<Outcome> {
    const g = this.of(live);
    return new Promise((resolve) => {
      if (live.doc.executionMode === 'SUPERSEDED') {
        for (const other of g.waiters.filter((w) => w.stage === stage)) {
          if (other.live.row.started <= live.row.started) {
            g.waiters.splice(g.waiters.indexOf(other), 1);
            other.resolve('superseded');
          } else return resolve('superseded');
        }
      }
      g.waiters.push({ live, stage, resolve });
      this.kick(g);
    });
  }

  /** Records a stage held by an execution resumed after a restart. */
  occupy(live: Live, stage: number) {
    if (live.doc.executionMode !== 'PARALLEL') this.of(live).occupants.set(stage, live.row.id);
  }

  leave(live: Live, stage: number) {
    const g = this.of(live);
    if (g.occupants.get(stage) === live.row.id) g.occupants.delete(stage);
    this.kick(g);
  }

  /** Frees whatever the execution holds or waits for. */
  release(live: Live) {
    const g = this.of(live);
    for (const [stage, id] of g.occupants) if (id === live.row.id) g.occupants.delete(stage);
    g.waiters = g.waiters.filter((w) => w.live !== live);
    this.kick(g);
  }

  /** Ends a wait at a gate as "stopped"; false when the execution was not waiting. */
  cancelWait(live: Live): boolean {
    const g = this.of(live);
    const w = g.waiters.find((x) => x.live === live);
    if (!w) return false;
    g.waiters.splice(g.waiters.indexOf(w), 1);
    w.resolve('stopped');
    this.kick(g);
    return true;
  }

  waiting(s: Scope, pipeline: string, stage: number): Live[] {
    return this.get(s, pipeline)
      .waiters.filter((w) => w.stage === stage)
      .map((w) => w.live);
  }

  transitions(s: Scope, pipeline: string) {
    return this.get(s, pipeline).transitions;
  }

  setTransitions(s: Scope, pipeline: string, t: Record<string, Transition>) {
    const g = this.get(s, pipeline);
    g.transitions = t;
    this.kick(g);
  }

  forget(s: Scope, pipeline: string) {
    this.pipelines.delete(keyOf(s, pipeline));
  }

  private open(g: PipelineGates, live: Live, i: number) {
    const stages = live.doc.stages;
    if (g.transitions[`${stages[i].name}|Inbound`]?.enabled === false) return false;
    if (i > 0 && g.transitions[`${stages[i - 1].name}|Outbound`]?.enabled === false) return false;
    return true;
  }

  private kick(g: PipelineGates) {
    for (const w of [...g.waiters]) {
      if (!this.open(g, w.live, w.stage)) continue;
      const parallel = w.live.doc.executionMode === 'PARALLEL';
      if (!parallel) {
        if (g.occupants.has(w.stage)) continue;
        g.occupants.set(w.stage, w.live.row.id);
      }
      g.waiters.splice(g.waiters.indexOf(w), 1);
      w.resolve('enter');
    }
  }
}
