// Pseudo-variables by the names operators know from OpenSIPS/Kamailio ($rd, $si, $tls_peer_subject...).
// One registry, extended by later layers (TLS registers $tls_*), read through ctx.pv() and ctx.expand().

export type PvValue = string | number | boolean | null | undefined;
export type PvGetter<C> = (ctx: C, arg: string | undefined) => PvValue;

export interface PvSpec<C> {
  name: string;
  summary: string;
  get: PvGetter<C>;
  /** Whether the variable takes an argument, as in $hdr(Via) or $avp(name). */
  arg?: 'required' | 'optional';
}

/** `$name` or `$name(arg)`; names are letters, digits and underscores, as in the seeds. */
const PV_TOKEN = /\$([A-Za-z_][A-Za-z0-9_]*)(?:\(([^()]*)\))?/g;

/** Most expressions whose parse `get` remembers. */
const MAX_PARSED = 1024;

export class PvRegistry<C> {
  private readonly specs = new Map<string, PvSpec<C>>();
  /** `get`'s expressions, parsed: the same few strings come with every message. */
  private readonly parsed = new Map<string, { name: string; arg: string | undefined }>();

  register(...specs: PvSpec<C>[]): void {
    for (const spec of specs) {
      if (this.specs.has(spec.name)) throw new Error(`pseudo-variable $${spec.name} is registered twice`);
      this.specs.set(spec.name, spec);
    }
  }

  list(): PvSpec<C>[] {
    return [...this.specs.values()];
  }

  /** Reads `$name` or `$name(arg)`; throws for an unknown name (a script bug, not input). */
  get(ctx: C, expr: string): PvValue {
    let ref = this.parsed.get(expr);
    if (ref === undefined) {
      PV_TOKEN.lastIndex = 0;
      const m = PV_TOKEN.exec(expr.trim());
      if (!m || m[0].length !== expr.trim().length)
        throw new Error(`"${expr}" is not a pseudo-variable (expected $name or $name(arg))`);
      ref = { name: m[1]!, arg: m[2] };
      // Scripts name their variables in constants: a few entries serve every message. Bounded all
      // the same, for scripts that build expressions from message content.
      if (this.parsed.size >= MAX_PARSED) this.parsed.clear();
      this.parsed.set(expr, ref);
    }
    return this.read(ctx, ref.name, ref.arg);
  }

  /** Replaces every known `$var` in a template; an unset value becomes `<null>` as in OpenSIPS. */
  expand(ctx: C, template: string): string {
    return template.replace(PV_TOKEN, (whole, name: string, arg: string | undefined) => {
      if (!this.specs.has(name)) return whole;
      const v = this.read(ctx, name, arg);
      return v === null || v === undefined ? '<null>' : String(v);
    });
  }

  private read(ctx: C, name: string, arg: string | undefined): PvValue {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`unknown pseudo-variable $${name}; see docs/variables.md`);
    if (spec.arg === 'required' && !arg) throw new Error(`$${name} needs an argument, e.g. $${name}(name)`);
    return spec.get(ctx, arg);
  }
}
