// Kamailio's low_mem_threshold1/2 for a Node process: "free memory" is the V8 heap still available
// (heap_size_limit - used_heap_size), which is what runs out first when TLS buffers and queued
// messages pile up. Reading the heap statistics costs microseconds; they are sampled at most
// every 100 ms so that a burst of handshakes does not pay it each time.
import { getHeapStatistics } from 'node:v8';

export interface MemoryThresholds {
  /** KB of free heap under which new TLS connections are refused; 0 = never. */
  refuseNewKb: number;
  /** KB of free heap under which established TLS connections are closed when used; 0 = never. */
  closeEstablishedKb: number;
}

/** What -1 ("use the default") stands for: conservative shares of a default-sized heap. */
export const DEFAULT_THRESHOLDS: MemoryThresholds = { refuseNewKb: 32 * 1024, closeEstablishedKb: 16 * 1024 };

const SAMPLE_MS = 100;

export class MemoryGuard {
  /** The sample is recent; a timer clears this, so a message pays no clock read (0.3% of one). */
  private fresh = false;
  private free = Infinity;
  private readonly expire = () => {
    this.fresh = false;
  };

  constructor(private readonly thresholds: MemoryThresholds) {}

  /** Free heap in KB, sampled. */
  freeKb(): number {
    if (!this.fresh) {
      const h = getHeapStatistics();
      this.free = Math.floor((h.heap_size_limit - h.used_heap_size) / 1024);
      this.fresh = true;
      setTimeout(this.expire, SAMPLE_MS).unref();
    }
    return this.free;
  }

  /** Why a new TLS connection must be refused now, if it must. */
  refusesNew(): string | undefined {
    return this.below(this.thresholds.refuseNewKb, 'low_mem_threshold1');
  }

  /** Why an established TLS connection must be closed now, if it must. */
  closesEstablished(): string | undefined {
    return this.below(this.thresholds.closeEstablishedKb, 'low_mem_threshold2');
  }

  private below(limitKb: number, name: string): string | undefined {
    if (limitKb === 0) return undefined;
    const free = this.freeKb();
    return free < limitKb ? `low memory: ${free} KB of heap free, under ${name} ${limitKb} KB` : undefined;
  }
}

/** Maps the configured values (-1 = default, 0 = off) to thresholds. */
export function memoryThresholds(threshold1: number, threshold2: number): MemoryThresholds {
  return {
    refuseNewKb: threshold1 === -1 ? DEFAULT_THRESHOLDS.refuseNewKb : threshold1,
    closeEstablishedKb: threshold2 === -1 ? DEFAULT_THRESHOLDS.closeEstablishedKb : threshold2,
  };
}
