import type { Clock, TimerHandle } from '../../../drivers/base/clock.js';
import { ansi, type Tty } from '../tty.js';
import { t, type Language } from './strings.js';

/**
 * A waiting line that counts down the seconds left (card, host), rewritten in place once a
 * second. Whatever prints next ends it first, so the countdown never runs into other text.
 */
export class Countdown {
  private timer: TimerHandle | undefined;
  private active = false;
  private text = '';
  private endsAt = 0;

  constructor(
    private readonly tty: Tty,
    private readonly clock: Clock,
    private readonly lang: () => Language,
  ) {}

  start(text: string, ms: number): void {
    this.stop();
    this.active = true;
    this.text = text;
    this.endsAt = this.clock.now() + ms;
    this.tick();
  }

  /** Ends the countdown line, leaving its last figure on screen. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.tty.write('\n');
  }

  private tick(): void {
    const seconds = Math.max(0, Math.ceil((this.endsAt - this.clock.now()) / 1000));
    this.tty.write(`\r${ansi.clearLine}${this.text} ${t(this.lang(), 'secondsLeft', { seconds: String(seconds) })}`);
    if (seconds === 0) return;
    this.timer = this.clock.setTimeout(() => {
      if (this.active) this.tick();
    }, 1000);
    this.timer.unref?.();
  }
}
