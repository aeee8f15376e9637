// raftkv dashboard (docs/dashboard.md). Plain browser JavaScript, no dependencies, no build.
// It polls GET /ui/state once a second while the tab is visible — and not at all while it is
// hidden, so a page no one looks at costs the node nothing — and draws every member's state and
// log tail. What is not in one state (rates, the timeline of leader changes) is derived here from
// successive states. The key browser calls the KV API of the node that served the page.
//
// Panels are independent render functions over the same derived state; a new panel (e.g. fault
// injection) is one more section in index.html and one more function called from update().

const pollMs = 1000;
const stateTimeoutMs = 3000;
const tokenKey = 'raftkv.token';
const paletteSize = 8;
const timelineMax = 60;
const listLimit = 100;
const exercisePollMs = 500;
const exerciseRunKey = 'raftkv.exerciseRun';

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Builds an element: h('td', { class: 'num', title: '…' }, 'text', child, …). Text is never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style') for (const [p, pv] of Object.entries(v)) el.style.setProperty(p, pv);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const $ = (selector) => document.querySelector(selector);

/** The colour of a term, the same wherever a term is drawn. */
function termColor(term) {
  return `var(--term-${((term % paletteSize) + paletteSize) % paletteSize})`;
}

function termChip(term) {
  return h(
    'span',
    { class: 'term', style: { '--tc': termColor(term) }, title: `term ${term}` },
    String(term),
  );
}

function clock(at) {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

function seconds(ms) {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function rate(value) {
  if (value === null || !Number.isFinite(value)) return '—';
  return value < 10 ? value.toFixed(1) : String(Math.round(value));
}

function list(ids) {
  if (ids.length <= 1) return ids.join('');
  return `${ids.slice(0, -1).join(', ')} and ${ids.at(-1)}`;
}

// ---------------------------------------------------------------------------------------------
// Calls: every one carries the token, when there is one.

function token() {
  return sessionStorage.getItem(tokenKey);
}

/** One API call; resolves { status, body } (body parsed as JSON when it is), rejects on no answer. */
async function api(method, path, body, timeoutMs = 10_000) {
  const headers = {};
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { error: text.slice(0, 200) };
  }
  return { status: res.status, body: parsed };
}

/** An API error as the API words it: its status, `code` and `error`. */
function describeError(a) {
  const b = a.body ?? {};
  const code = typeof b.code === 'string' ? ` ${b.code}` : '';
  const why = typeof b.error === 'string' ? `: ${b.error}` : '';
  return `HTTP ${a.status}${code}${why}`;
}

function describeFailure(e) {
  if (e?.name === 'TimeoutError') return 'no answer in time';
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Derived state, kept across polls

const seen = {
  /** The last view, and the last status of each member that answered (shown greyed when it stops). */
  view: null,
  lastStatus: new Map(), // id → { at, status }
  /** The leader last seen ({ id, term, at }), and since when none is known. */
  leader: null,
  leaderlessSince: null,
  /** The page was hidden (no polls) since the leader was last seen: a leaderless gap is unknown. */
  hiddenSinceLeader: false,
  maxTerm: 0,
  /** The previous poll's leader commit index (a follower below it is behind, not just in flight). */
  prevLeaderCommit: null,
  timeline: [],
  pageNodeDown: false,
  keysListed: false,
};

/** The status a member reported in this view, or null. */
function statusOf(member) {
  return member.reachable && member.status !== null && typeof member.status === 'object'
    ? member.status
    : null;
}

/** The leader: the answering member that says it leads, in the highest term (a stale one may linger). */
function leaderOf(view) {
  let best = null;
  for (const m of view.members) {
    const s = statusOf(m);
    if (s?.state === 'leader' && (best === null || s.term > best.term))
      best = { id: m.id, term: s.term, status: s };
  }
  return best;
}

function lastIndexOf(status) {
  const tail = status.log ?? [];
  return tail.length > 0 ? tail.at(-1).index : status.logLength;
}

function messagesOf(status) {
  const t = status.transport;
  if (!t) return null;
  return (t.peers ?? []).reduce((n, p) => n + (p.sent ?? 0), 0) + (t.messagesReceived ?? 0);
}

/** Per-second rates of one member between its previous status and this one (null when unknown). */
function ratesOf(id, status, at) {
  const before = seen.lastStatus.get(id);
  const none = { requests: null, messages: null, commits: null };
  if (before === undefined || status === null) return none;
  const dt = (at - before.at) / 1000;
  if (dt <= 0) return none;
  const per = (a, b) =>
    a === null || a === undefined || b === null || b === undefined || a < b ? null : (a - b) / dt;
  return {
    requests: per(status.admission?.requests, before.status.admission?.requests),
    messages: per(messagesOf(status), messagesOf(before.status)),
    commits: per(status.commitIndex, before.status.commitIndex),
  };
}

/** A candidate for real: a pre-candidate (PreVote) is one that has not raised its term yet. */
function standing(status) {
  return status?.state === 'candidate' && !status.preCandidate;
}

function note(at, text, kind = '', term = null) {
  seen.timeline.unshift({ at, text, kind, term });
  seen.timeline.length = Math.min(seen.timeline.length, timelineMax);
}

/** Timeline entries from the change between the previous view and this one. */
function observeChanges(prev, view, leader) {
  const at = view.at;
  if (prev === null) {
    note(
      at,
      leader ? `watching: ${leader.id} leads term ${leader.term}` : 'watching: no leader known',
      '',
      leader?.term ?? null,
    );
  } else {
    const before = new Map(prev.members.map((m) => [m.id, m]));
    const now = new Set(view.members.map((m) => m.id));
    for (const m of view.members) {
      const p = before.get(m.id);
      const s = statusOf(m);
      const ps = p ? statusOf(p) : null;
      if (p === undefined) note(at, `${m.id} joined the membership as ${m.role}`, 'good');
      else if (p.role !== m.role) note(at, `${m.id} is now a ${m.role}`, 'good');
      if (p !== undefined && ps !== null && s === null)
        note(at, `${m.id} unreachable: ${m.error ?? 'no answer'}`, 'bad');
      if (p !== undefined && ps === null && s !== null) note(at, `${m.id} reachable again`, 'good');
      if (standing(s) && !standing(ps)) note(at, `${m.id} stands for election in term ${s.term}`, '', s.term);
      if (s?.preCandidate && !ps?.preCandidate) note(at, `${m.id} pre-votes (its term stays ${s.term})`);
    }
    for (const p of prev.members) if (!now.has(p.id)) note(at, `${p.id} left the membership`, 'bad');
  }
  const maxTerm = Math.max(0, ...view.members.map((m) => statusOf(m)?.term ?? 0));
  const announced = view.members.some((m) => standing(statusOf(m)) && statusOf(m).term === maxTerm);
  if (prev !== null && maxTerm > seen.maxTerm && leader?.term !== maxTerm && !announced)
    note(at, `term ${maxTerm} begins: an election`, '', maxTerm);
  seen.maxTerm = Math.max(seen.maxTerm, maxTerm);

  const old = seen.leader;
  if (leader !== null && (old === null || old.id !== leader.id || old.term !== leader.term)) {
    if (prev !== null) {
      // Between the last poll that showed the old leader and this one there was no leader we
      // know of — at most that long (the poll is the resolution).
      const gap = old === null || seen.hiddenSinceLeader ? null : at - old.at;
      const without =
        gap === null
          ? old === null
            ? ''
            : ' (while this page was hidden)'
          : ` — no leader for ${seen.leaderlessSince === null ? 'at most ' : ''}${seconds(gap)}`;
      note(at, `${leader.id} elected leader of term ${leader.term}${without}`, 'good', leader.term);
    }
    seen.leaderlessSince = null;
  } else if (leader === null && old !== null && seen.leaderlessSince === null && prev !== null) {
    note(at, `no leader: ${old.id} (term ${old.term}) is gone or stepped down`, 'bad', old.term);
    seen.leaderlessSince = at;
  }
  if (leader !== null) {
    seen.leader = { id: leader.id, term: leader.term, at };
    seen.hiddenSinceLeader = false;
  } else if (seen.leaderlessSince === null && prev === null) seen.leaderlessSince = at;
}

// ---------------------------------------------------------------------------------------------
// Rendering the view

function renderSummary(view, leader) {
  const el = $('#summary');
  el.className = '';
  const answering = view.members.filter((m) => statusOf(m) !== null).length;
  el.replaceChildren(
    `served by ${view.servedBy} · `,
    leader
      ? h(
          'span',
          {},
          'leader ',
          h('span', { class: 'leader-name' }, leader.id),
          ' in term ',
          termChip(leader.term),
        )
      : h('span', { class: 'error-text' }, 'no leader known'),
    ` · ${answering} of ${view.members.length} members answer · ${clock(view.at)}`,
  );
  document.body.dataset.leader = leader?.id ?? '';
}

function renderMembers(view, leader, rates) {
  const progress = leader?.status.progress ?? null;
  const rows = view.members.map((m) => {
    const live = statusOf(m);
    const last = seen.lastStatus.get(m.id);
    const s = live ?? last?.status ?? null;
    const isLeader = leader?.id === m.id;
    const r = rates.get(m.id);
    const cls = [isLeader ? 'leader' : '', live === null ? 'unreachable' : ''].join(' ').trim();
    const known = s === null ? '?' : s.preCandidate ? 'pre-candidate' : s.state;
    // A member that stopped answering is drawn with what it said last, greyed — but not as a role.
    const state = live === null ? (s === null ? 'unknown' : `was ${known}`) : known;
    const roleCell = h(
      'td',
      {},
      h('span', { class: `role ${isLeader ? 'leader' : ''}` }, state),
      m.role === 'learner' ? h('span', { class: 'tag' }, 'learner') : null,
      m.id === view.servedBy
        ? h('span', { class: 'tag', title: 'the node that served this page' }, 'this page')
        : null,
    );
    const num = (v, title) =>
      h('td', { class: 'num', title }, v === null || v === undefined ? '—' : String(v));
    const match = progress?.[m.id];
    const why =
      live !== null
        ? ''
        : `${m.reachable ? '' : 'unreachable: '}${m.error ?? 'no status'}${last ? ` (last seen ${clock(last.at)})` : ''}`;
    return h(
      'tr',
      { class: cls, 'data-id': m.id },
      h('td', {}, h('b', {}, m.id)),
      roleCell,
      h('td', {}, s === null ? '—' : termChip(s.term)),
      h('td', {}, s?.votedFor ?? '—'),
      num(s?.commitIndex),
      num(s?.lastApplied),
      num(s === null ? null : lastIndexOf(s)),
      num(s?.snapshotIndex),
      num(match?.match, match ? `next ${match.next}, ${match.state}` : undefined),
      num(
        rate(r?.requests ?? null),
        live !== null && live.admission === undefined ? 'not reported by this member' : undefined,
      ),
      num(rate(r?.messages ?? null)),
      num(rate(r?.commits ?? null)),
      h('td', { class: 'why wrap' }, why),
    );
  });
  $('#nodes tbody').replaceChildren(...rows);
}

/** The log tails side by side: one row per member, one column per log index, aligned. */
function renderLogs(view, leader) {
  const rows = view.members.map((m) => {
    const live = statusOf(m);
    return { m, live: live !== null, s: live ?? seen.lastStatus.get(m.id)?.status ?? null };
  });
  const known = rows.filter((r) => r.s !== null);
  const hi = Math.max(0, ...known.map((r) => lastIndexOf(r.s)));
  const lo = Math.max(1, hi - 23);
  const grid = $('#logs');
  if (hi === 0) {
    grid.replaceChildren(h('p', { class: 'hint' }, 'No log entries yet.'));
    return;
  }
  const width = hi - lo + 1;
  grid.style.gridTemplateColumns = `max-content repeat(${width}, var(--cell))`;
  const cells = [];
  for (let i = lo; i <= hi; i++)
    cells.push(
      h('div', { class: 'index', style: { 'grid-row': '1', 'grid-column': String(i - lo + 2) } }, String(i)),
    );
  const progress = leader?.status.progress ?? null;
  rows.forEach(({ m, live, s }, n) => {
    const row = String(n + 2);
    cells.push(
      h(
        'div',
        { class: `who ${live ? '' : 'unreachable'}`, style: { 'grid-row': row, 'grid-column': '1' } },
        leader?.id === m.id ? '★ ' : '',
        m.id,
      ),
    );
    if (s === null) {
      cells.push(
        h(
          'div',
          { class: 'behind', style: { 'grid-row': row, 'grid-column': `2 / span ${width}` } },
          'no status',
        ),
      );
      return;
    }
    const last = lastIndexOf(s);
    if (last < lo) {
      cells.push(
        h(
          'div',
          { class: 'behind', style: { 'grid-row': row, 'grid-column': `2 / span ${width}` } },
          last === 0 ? 'empty log' : `log ends at ${last}, ${hi - last} behind`,
        ),
      );
      return;
    }
    const first = s.firstIndex ?? 1;
    if (first > lo) {
      const span = Math.min(hi, first - 1) - lo + 1;
      cells.push(
        h(
          'div',
          {
            class: 'entry compacted',
            style: { 'grid-row': row, 'grid-column': `2 / span ${span}`, opacity: live ? null : '0.45' },
            title: `entries up to ${s.snapshotIndex ?? first - 1} are compacted into ${m.id}'s snapshot`,
          },
          `snapshot ≤ ${s.snapshotIndex ?? first - 1}`,
        ),
      );
    }
    const match = m.id !== leader?.id ? progress?.[m.id]?.match : undefined;
    for (const e of s.log ?? []) {
      if (e.index < lo || e.index > hi || e.index < first) continue;
      const committed = e.index <= s.commitIndex;
      const classes = ['entry', committed ? 'committed' : 'uncommitted', e.type];
      if (e.index === s.commitIndex) classes.push('commit');
      if (e.index === match) classes.push('match');
      cells.push(
        h(
          'div',
          {
            class: classes.join(' '),
            style: {
              'grid-row': row,
              'grid-column': String(e.index - lo + 2),
              '--tc': termColor(e.term),
              opacity: live ? null : '0.45',
            },
            title: `${m.id} #${e.index}, term ${e.term}, ${e.type}${committed ? '' : ' (not committed)'}: ${e.summary}`,
            'data-index': e.index,
          },
          String(e.term),
        ),
      );
    }
  });
  grid.replaceChildren(...cells);
}

function renderTimeline() {
  $('#timeline').replaceChildren(
    ...seen.timeline.map((e) =>
      h(
        'li',
        { class: e.kind },
        h('time', {}, clock(e.at)),
        e.term !== null ? termChip(e.term) : null,
        ' ',
        e.text,
      ),
    ),
  );
}

function renderMembership(view, leader) {
  $('#membership tbody').replaceChildren(
    ...view.members.map((m) =>
      h(
        'tr',
        {},
        h('td', {}, m.id),
        h('td', {}, m.address),
        h('td', {}, m.role),
        h(
          'td',
          { class: 'hint' },
          [leader?.id === m.id ? 'leader' : '', m.id === view.servedBy ? 'serves this page' : '']
            .filter(Boolean)
            .join(', '),
        ),
      ),
    ),
  );
  $('#membership-index').textContent = `configuration at log index ${view.membershipIndex}`;
}

// ---------------------------------------------------------------------------------------------
// Notes: the rule at work, when the state calls for it. Each is [rule, text, doc]: the doc is
// where the rule is explained at length — the README or a doc, served as text by the node
// (GET /ui/docs/NAME.md), so the link works offline too.

const readmeCore = ['README.md', 'README: the core'];
const readmeGuarantees = ['README.md', 'README: guarantees'];
const readModesDoc = ['read-modes.md', 'docs/read-modes.md'];
const membershipDoc = ['membership.md', 'docs/membership.md'];
const securityDoc = ['security.md', 'docs/security.md'];
const faultsDoc = ['faults.md', 'docs/faults.md'];

function notesFor(view, leader) {
  const notes = [];
  const voters = view.members.filter((m) => m.role === 'voter');
  const majority = Math.floor(voters.length / 2) + 1;
  const answering = voters.filter((m) => statusOf(m) !== null);
  const silent = view.members.filter((m) => statusOf(m) === null).map((m) => m.id);
  const electionMs = view.members.map(statusOf).find((s) => s !== null)?.electionTimeoutMs;

  if (silent.length > 0 && answering.length >= majority && leader !== null)
    notes.push([
      'A majority is enough.',
      `${list(silent)} ${silent.length === 1 ? 'does' : 'do'} not answer, but ${answering.length} of ${voters.length} voters do — a majority (${majority}) — so they keep a leader and commit writes. A member that returns catches up from the leader.`,
      readmeCore,
    ]);
  if (answering.length < majority)
    notes.push([
      'No majority.',
      `Only ${answering.length} of ${voters.length} voters answer. A leader needs the votes of ${majority}, and a write commits only once ${majority} have stored it, so nothing commits until enough members are back; writes wait, then fail with 503 or 504 (their outcome then unknown).`,
      readmeGuarantees,
    ]);
  if (leader === null && answering.length >= majority)
    notes.push([
      'Election under way.',
      `No member leads right now. A follower that hears no heartbeat for its election timeout${electionMs ? ` (${electionMs} ms, randomised)` : ''} stands for election in a new term; the first to get votes from a majority (${majority} of ${voters.length}) leads. Each member votes once per term, so a term has at most one leader.`,
      readmeCore,
    ]);
  const pre = view.members.filter((m) => statusOf(m)?.preCandidate).map((m) => m.id);
  if (pre.length > 0)
    notes.push([
      'PreVote.',
      `${list(pre)} ${pre.length === 1 ? 'is' : 'are'} pre-voting: asking whether a majority would vote for it, before raising its term. A node cut off from the others cannot win, so it never raises its term and does not disrupt the leader when it comes back.`,
      readmeCore,
    ]);
  if (leader !== null) {
    for (const m of view.members) {
      const s = statusOf(m);
      if (s === null || s.state !== 'leader' || m.id === leader.id) continue;
      notes.push([
        'Stale leader.',
        `${m.id} still believes it leads term ${s.term}, but ${leader.id} leads term ${leader.term}. ${m.id} cannot commit anything (a majority has moved on) and steps down as soon as it hears the higher term.`,
        readModesDoc,
      ]);
    }
    const ls = leader.status;
    const leaderFirst = ls.firstIndex ?? 1;
    for (const m of view.members) {
      const s = statusOf(m);
      if (s === null || m.id === leader.id || seen.prevLeaderCommit === null) continue;
      const last = lastIndexOf(s);
      const state = ls.progress?.[m.id]?.state;
      if (last >= seen.prevLeaderCommit && state !== 'snapshot') continue;
      notes.push(
        last < leaderFirst - 1 || state === 'snapshot'
          ? [
              'Catching up by snapshot.',
              `${m.id}'s log ends at ${last}, before the leader's first entry (${leaderFirst}): the entries it lacks are compacted, so the leader sends its snapshot, then the entries after it.`,
              readmeCore,
            ]
          : [
              'Catching up.',
              `${m.id}'s log ends at ${last}, the leader has committed ${ls.commitIndex}: the leader sends it the entries it lacks (AppendEntries, going back until their logs agree).`,
              readmeCore,
            ],
      );
    }
  }
  // Entries not committed where it matters: no leader, a member that stopped answering, or
  // entries from an older term than the leader's — a new leader may overwrite them.
  const replaceable = [];
  for (const m of view.members) {
    const live = statusOf(m);
    const s = live ?? seen.lastStatus.get(m.id)?.status ?? null;
    if (s === null) continue;
    const commit = leader?.status.commitIndex ?? s.commitIndex;
    const tail = (s.log ?? []).filter((e) => e.index > Math.max(commit, s.commitIndex));
    if (tail.length > 0 && (leader === null || live === null || tail.some((e) => e.term < leader.term)))
      replaceable.push(m.id);
  }
  if (replaceable.length > 0)
    notes.push([
      'Uncommitted entries may be replaced.',
      `${list(replaceable)} ${replaceable.length === 1 ? 'holds' : 'hold'} entries past the commit index (dashed). An entry is committed only once a majority has stored it; until then a new leader whose log lacks it overwrites it with its own. Its client got no success — at most "outcome unknown". Committed entries are never replaced.`,
      readmeGuarantees,
    ]);
  const learners = view.members.filter((m) => m.role === 'learner').map((m) => m.id);
  if (learners.length > 0)
    notes.push([
      'Learners.',
      `${list(learners)} ${learners.length === 1 ? 'receives' : 'receive'} the log but neither vote${learners.length === 1 ? 's' : ''} nor count toward a majority; the leader promotes a learner to voter once it has caught up (see docs/membership.md).`,
      membershipDoc,
    ]);
  notes.push(...faultNotes(view, leader));
  const failing = view.members.filter((m) => m.reachable && m.error !== null).map((m) => m.id);
  if (failing.length > 0)
    notes.push([
      'Answered with an error.',
      `${list(failing)} answered but refused its status (see the members table); with --auth-file the page needs an admin's token, which each member checks itself.`,
      securityDoc,
    ]);
  return notes;
}

/** Notes on the faults in force (docs/faults.md): what each one does to Raft. */
function faultNotes(view, leader) {
  const notes = [];
  const withFaults = view.members
    .map((m) => ({ id: m.id, f: faultsOf(statusOf(m)) }))
    .filter(({ f }) => f?.enabled === true);
  const others = (id) => view.members.filter((m) => m.id !== id).map((m) => m.id);
  for (const { id, f } of withFaults) {
    const cutOff = f.isolate || others(id).every((o) => f.dropTo.includes(o) && f.dropFrom.includes(o));
    if (cutOff && !f.paused)
      notes.push([
        'Isolated.',
        `${id} hears none of its peers and they hear nothing from it. Alone it is a minority: it can neither be elected nor commit a write${leader !== null && leader.id !== id ? `, while the majority keeps ${leader.id} as leader` : ''}. It pre-votes without raising its term, so when it rejoins it does not depose the leader; it catches up from it.`,
        faultsDoc,
      ]);
    else if (!cutOff && (f.dropTo.length > 0 || f.dropFrom.length > 0))
      notes.push([
        'A cut link.',
        `${id} drops messages to ${list(f.dropTo) || 'no one'} and from ${list(f.dropFrom) || 'no one'}. Raft needs no link in particular, only a majority that can reach its leader: each side still hears the others.`,
        faultsDoc,
      ]);
    if (f.paused)
      notes.push([
        'Paused.',
        `${id} is stopped as a SIGSTOP would stop it: no ticks, no messages, its clients' requests wait. Its peers see a silent node${leader?.id === id ? '' : ' and, if it led, elect another leader'}. On resuming it first counts the time that passed: a leader whose lease ran out meanwhile does not serve a read from it — the read needs a heartbeat round a majority answers, which fails once another leader exists — so a paused leader's stale reads are refused.`,
        readModesDoc,
      ]);
    if (f.diskDelayMs > 0)
      notes.push([
        'Slow disk.',
        `Every fsync of ${id} takes ${f.diskDelayMs} ms longer. A write commits once a majority has it on disk, so a slow follower slows nothing while the others form a majority; a slow leader slows every write (and hands leadership over if an fsync stalls past an election timeout).`,
        faultsDoc,
      ]);
    if (f.messageDelayMs > 0)
      notes.push([
        'Slow messages.',
        `Every message ${id} sends leaves ${f.messageDelayMs} ms late. Past an election timeout, its followers would stop hearing a leader in time and elect another.`,
        faultsDoc,
      ]);
  }
  return notes;
}

function renderNotes(view, leader) {
  const notes = notesFor(view, leader);
  $('#notes').replaceChildren(
    ...notes.map(([rule, text, [file, name]]) =>
      h(
        'li',
        {},
        h('b', {}, rule),
        ' ',
        text,
        ' ',
        h('a', { href: `/ui/docs/${file}`, target: '_blank', rel: 'noopener' }, `(${name})`),
      ),
    ),
  );
  $('#notes-panel').hidden = notes.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Faults (docs/faults.md): each button asks the node serving the page, which passes it on to the
// member named (POST/DELETE /ui/nodes/{id}/faults); moving leadership is POST /cluster/leader.

/** How much slower a "slow disk" makes every fsync. */
const slowDiskMs = 200;

/** The faults a member reports in force, or null when it has none to report. */
function faultsOf(status) {
  const f = status?.faults;
  return f && typeof f === 'object' ? f : null;
}

function describeFaults(f) {
  if (f === null) return '—';
  const parts = [];
  if (f.paused) parts.push('paused');
  if (f.isolate) parts.push('isolated');
  if (f.dropTo?.length) parts.push(`drops to ${f.dropTo.join(', ')}`);
  if (f.dropFrom?.length) parts.push(`drops from ${f.dropFrom.join(', ')}`);
  if (f.diskDelayMs) parts.push(`fsync +${f.diskDelayMs} ms`);
  if (f.messageDelayMs) parts.push(`messages +${f.messageDelayMs} ms`);
  return parts.length === 0 ? 'none' : parts.join(' · ');
}

function faultsMessage(text, kind) {
  const el = $('#faults-message');
  el.textContent = text;
  el.className = kind;
}

/** Runs one fault action, notes it on the timeline, and redraws at once. */
async function faultAction(description, method, path, body) {
  faultsMessage(`${description}…`, '');
  try {
    const a = await api(method, path, body);
    if (a.status !== 200) {
      faultsMessage(`${description}: ${describeError(a)}`, 'error');
      return false;
    }
    faultsMessage(`${description}: done`, 'ok');
    note(Date.now(), `you: ${description}`, 'action');
    renderTimeline();
    pollNow();
    return true;
  } catch (e) {
    faultsMessage(`${description}: ${describeFailure(e)}`, 'error');
    return false;
  }
}

function setFaults(id, patch, description) {
  return faultAction(description, 'POST', `/ui/nodes/${encodeURIComponent(id)}/faults`, patch);
}

function healFaults(id, description) {
  return faultAction(description, 'DELETE', `/ui/nodes/${encodeURIComponent(id)}/faults`);
}

function processAction(id, action) {
  return faultAction(`${action} ${id}`, 'POST', `/ui/nodes/${encodeURIComponent(id)}/process`, { action });
}

/**
 * The fault table, one row a member. A row is drawn anew only when what it shows changed (its
 * signature, kept in data-sig): redrawn on every poll, a click straddling the redraw would land
 * on a button no longer there.
 */
function renderFaults(view, leader) {
  const statuses = view.members.map((m) => ({ m, s: statusOf(m) }));
  const enabled = statuses.some(({ s }) => faultsOf(s)?.enabled === true);
  $('#faults-off').hidden = enabled || statuses.every(({ s }) => s === null);
  const tbody = $('#faults tbody');
  const drawn = new Map([...tbody.rows].map((row) => [row.dataset.id, row]));
  const rows = statuses.map(({ m, s }) => {
    const f = faultsOf(s);
    const can = f?.enabled === true;
    const isLeader = leader?.id === m.id;
    const signature = JSON.stringify([
      isLeader,
      s === null,
      can && describeFaults(f),
      Boolean(f?.isolate),
      Boolean(f?.paused),
      Boolean(f?.diskDelayMs),
      m.role === 'learner',
      view.supervised,
      m.id === view.servedBy,
    ]);
    const before = drawn.get(m.id);
    if (before?.dataset.sig === signature) return before;
    const button = (label, title, onclick, on = false) =>
      h('button', { type: 'button', class: on ? 'on' : '', title, disabled: !can, onclick }, label);
    return h(
      'tr',
      { 'data-id': m.id, 'data-sig': signature },
      h('td', {}, h('b', {}, m.id), isLeader ? h('span', { class: 'tag' }, 'leader') : null),
      h('td', { class: 'wrap' }, s === null ? 'unknown (no answer)' : can ? describeFaults(f) : 'faults off'),
      h(
        'td',
        { class: 'actions' },
        f?.isolate
          ? button(
              'Rejoin',
              'deliver its peer messages again',
              () => setFaults(m.id, { isolate: false }, `rejoin ${m.id}`),
              true,
            )
          : button('Isolate', 'drop every peer message to and from it', () =>
              setFaults(m.id, { isolate: true }, `isolate ${m.id}`),
            ),
        f?.paused
          ? button(
              'Resume',
              'let it run again',
              () => setFaults(m.id, { paused: false }, `resume ${m.id}`),
              true,
            )
          : button('Pause', 'stop it as SIGSTOP would: no ticks, no messages, requests wait', () =>
              setFaults(m.id, { paused: true }, `pause ${m.id}`),
            ),
        f?.diskDelayMs
          ? button(
              'Fast disk',
              'fsyncs at full speed again',
              () => setFaults(m.id, { diskDelayMs: 0 }, `mend ${m.id}'s disk`),
              true,
            )
          : button(`Slow disk`, `every fsync ${slowDiskMs} ms slower`, () =>
              setFaults(m.id, { diskDelayMs: slowDiskMs }, `slow ${m.id}'s disk by ${slowDiskMs} ms`),
            ),
        h(
          'button',
          {
            type: 'button',
            title: 'hand leadership to it (POST /cluster/leader)',
            disabled: isLeader || s === null || m.role === 'learner',
            onclick: () => faultAction(`move leadership to ${m.id}`, 'POST', '/cluster/leader', { to: m.id }),
          },
          'Make leader',
        ),
        button('Heal', 'remove every fault of this node', () => healFaults(m.id, `heal ${m.id}`)),
        // Under `raftkv cluster`: its supervisor kills (SIGKILL, a crash) and restarts the process.
        view.supervised
          ? [
              h(
                'button',
                {
                  type: 'button',
                  title:
                    m.id === view.servedBy
                      ? 'SIGKILL this node — it serves this page: restart it from another node’s page'
                      : 'SIGKILL the process (a crash)',
                  disabled: s === null,
                  onclick: () => processAction(m.id, 'kill'),
                },
                'Kill',
              ),
              h(
                'button',
                {
                  type: 'button',
                  title: 'start the process again on its data dir',
                  onclick: () => processAction(m.id, 'restart'),
                },
                'Restart',
              ),
            ]
          : null,
      ),
    );
  });
  const sameMembers =
    rows.length === tbody.rows.length && rows.every((row, i) => tbody.rows[i].dataset.id === row.dataset.id);
  if (!sameMembers) tbody.replaceChildren(...rows);
  else
    for (const [i, row] of rows.entries()) {
      const before = tbody.rows[i];
      if (before !== row) before.replaceWith(row);
    }
  // The link form lists the members; keep what is chosen across polls.
  const ids = view.members.map((m) => m.id);
  for (const [name, pick] of [
    ['a', 0],
    ['b', 1],
  ]) {
    const select = $(`#link-form select[name="${name}"]`);
    const chosen = select.value;
    if ([...select.options].map((o) => o.value).join() !== ids.join()) {
      select.replaceChildren(...ids.map((id) => h('option', { value: id }, id)));
      select.value = ids.includes(chosen) ? chosen : (ids[pick] ?? '');
    }
  }
  for (const b of document.querySelectorAll('#link-form button')) b.disabled = !enabled;
}

$('#link-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const a = String(form.get('a'));
  const b = String(form.get('b'));
  if (a === b) {
    faultsMessage('choose two different nodes', 'error');
    return;
  }
  // Cutting at one end is enough: it drops what it sends to the other and what arrives from it.
  const f = faultsOf(statusOf(seen.view?.members.find((m) => m.id === a) ?? { reachable: false })) ?? {};
  const add = (ids) => [...new Set([...(ids ?? []), b])];
  await setFaults(a, { dropTo: add(f.dropTo), dropFrom: add(f.dropFrom) }, `cut the link ${a} ⇹ ${b}`);
});

$('#heal-all').addEventListener('click', async () => {
  for (const m of seen.view?.members ?? []) await healFaults(m.id, `heal ${m.id}`);
});

// ---------------------------------------------------------------------------------------------
// Exercises: POST /ui/exercises starts one (in the supervisor under `raftkv cluster`, else on the
// node serving the page); GET /ui/exercises/{run} every 500 ms shows its steps as they come, then
// PASS or FAIL with what it observed. The run id is kept for the tab, so a reload follows it on.

const ex = {
  /** The run followed, or null. */
  run: null,
  runsIn: '',
  /** Steps drawn so far. */
  shown: 0,
  timer: null,
};

function exerciseStatus(text, kind = '') {
  const el = $('#exercise-status');
  el.textContent = text;
  el.className = kind;
}

function exerciseButtons(enabled) {
  for (const b of document.querySelectorAll('#exercise-buttons button')) b.disabled = !enabled;
}

function ms(v) {
  return typeof v === 'number' ? seconds(v) : '?';
}

/** The few observations that say what happened, in a sentence; null when they are not all there. */
function headline(n, o) {
  const has = (...names) => names.every((k) => o[k] !== undefined);
  if (n === 1 && has('leader', 'term', 'index'))
    return `${o.leader} led term ${o.term}; the write committed at index ${o.index} read back on every node`;
  if (n === 2 && has('failoverMs', 'newLeader', 'newTerm', 'oldLeader'))
    return (
      `failover took ${ms(o.failoverMs)}: ${o.newLeader} leads term ${o.newTerm} after ${o.oldLeader} ` +
      `(${o.failedBy ?? 'failed'})${o.catchUpMs === undefined ? '' : `; ${o.oldLeader} caught up in ${ms(o.catchUpMs)}`}`
    );
  if (n === 3 && has('majority', 'majorityLeader', 'minority'))
    return (
      `the majority {${o.majority.join(', ')}} elected ${o.majorityLeader} (term ${o.majorityTerm}) ` +
      `in ${ms(o.electionMs)} and accepted writes; the minority {${o.minority.join(', ')}}: ${o.minorityWrite ?? '?'}`
    );
  if (n === 4 && has('keys', 'leaderAfter', 'recoveryMs'))
    return `${o.keys} keys survived every node stopping; ${o.leaderAfter} led again ${ms(o.recoveryMs)} after the start`;
  return null;
}

function observedValue(name, v) {
  if (typeof v === 'number' && name.endsWith('Ms')) return `${v} ms`;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.join(', ');
  if (v !== null && typeof v === 'object')
    return Object.entries(v)
      .map(([k, x]) => `${k}: ${typeof x === 'string' ? x : JSON.stringify(x)}`)
      .join('; ');
  return JSON.stringify(v);
}

/** Draws the steps not drawn yet, the status line, and at the end the result. */
function renderRun(view) {
  const list = $('#exercise-steps');
  for (const s of view.steps.slice(ex.shown))
    list.append(h('li', { value: s.n }, h('time', {}, `+${seconds(s.atMs)}`), ' ', s.text));
  ex.shown = Math.max(ex.shown, view.steps.length);
  if (view.state !== 'done') {
    const where = view.runsIn === 'supervisor' ? 'in the supervisor of raftkv cluster' : `on ${view.runsIn}`;
    exerciseStatus(`exercise ${view.exercise} (${view.title}) running ${where}…`);
    return;
  }
  const pass = view.result === 'PASS';
  const line = headline(view.exercise, view.observed);
  const result = $('#exercise-result');
  result.className = pass ? 'pass' : 'fail';
  result.replaceChildren(
    h(
      'p',
      { class: 'verdict' },
      h('b', {}, view.result),
      ` exercise ${view.exercise} (${view.title}): ${view.summary}`,
    ),
    line === null ? null : h('p', { class: 'headline' }, line),
    h(
      'dl',
      {},
      Object.entries(view.observed).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, observedValue(k, v))]),
    ),
    h('p', { class: 'hint' }, `in ${ms(view.durationMs)}`),
  );
  result.hidden = false;
  exerciseStatus('');
  note(
    Date.now(),
    `exercise ${view.exercise} (${view.title}): ${view.result}${line === null ? '' : ` — ${line}`}`,
    pass ? 'good' : 'bad',
  );
  renderTimeline();
  endRun();
}

function endRun() {
  clearTimeout(ex.timer);
  ex.timer = null;
  ex.run = null;
  sessionStorage.removeItem(exerciseRunKey);
  exerciseButtons(true);
}

/** Follows run `view.run` from now on (a run just started, or one found running). */
function followRun(view, started) {
  clearTimeout(ex.timer);
  ex.run = view.run;
  ex.runsIn = view.runsIn ?? '';
  ex.shown = 0;
  sessionStorage.setItem(exerciseRunKey, view.run);
  exerciseButtons(false);
  $('#exercise-steps').replaceChildren();
  $('#exercise-result').hidden = true;
  if (started) {
    const where = view.runsIn === 'supervisor' ? ' in the supervisor' : '';
    note(Date.now(), `you: exercise ${view.exercise} (${view.title}) started${where}`, 'action');
    renderTimeline();
  }
  if (Array.isArray(view.steps)) renderRun(view);
  if (ex.run !== null) ex.timer = setTimeout(pollRun, exercisePollMs);
}

async function pollRun() {
  ex.timer = null;
  const run = ex.run;
  if (run === null) return;
  let a;
  try {
    a = await api('GET', `/ui/exercises/${encodeURIComponent(run)}`, undefined, stateTimeoutMs);
  } catch (e) {
    // No answer: the node serving the page is down — killed or stopped by the exercise itself.
    exerciseStatus(
      ex.runsIn === 'supervisor'
        ? `this node is down (${describeFailure(e)}), the exercise goes on in the supervisor — the rest shows when it is back`
        : `this node does not answer (${describeFailure(e)}); still asking`,
      'error',
    );
  }
  if (run !== ex.run) return; // another run was started meanwhile
  if (a !== undefined) {
    if (a.status === 200) {
      ex.runsIn = a.body.runsIn;
      renderRun(a.body);
    } else if (a.status === 404 && a.body?.code === 'not_found') {
      exerciseStatus(`run ${run} is no longer known here (${describeError(a)})`, 'error');
      endRun();
    } else {
      // The supervisor not answering, a token refused: say so and keep asking.
      exerciseStatus(`exercise run ${run}: ${describeError(a)} — still asking`, 'error');
    }
  }
  if (ex.run === run) ex.timer = setTimeout(pollRun, exercisePollMs);
}

async function startExercise(n) {
  exerciseButtons(false);
  exerciseStatus(`starting exercise ${n}: checking that the cluster has what it needs…`);
  let a;
  try {
    a = await api('POST', '/ui/exercises', { exercise: n }, 30_000);
  } catch (e) {
    exerciseStatus(`exercise ${n}: ${describeFailure(e)}`, 'error');
    exerciseButtons(true);
    return;
  }
  if (a.status === 202) return followRun(a.body, true);
  if (a.status === 409 && typeof a.body?.run === 'string') {
    // One runs already (from another tab, say): follow that one.
    followRun({ run: a.body.run, exercise: a.body.exercise }, false);
    exerciseStatus(`another exercise is running (${describeError(a)}); following it`);
    return;
  }
  exerciseStatus(`exercise ${n} cannot run: ${describeError(a)}`, 'error');
  exerciseButtons(true);
  if (a.status === 401) askForToken(a);
}

for (const b of document.querySelectorAll('#exercise-buttons button'))
  b.addEventListener('click', () => startExercise(Number(b.dataset.exercise)));

// ---------------------------------------------------------------------------------------------
// One poll

function update(view) {
  const leader = leaderOf(view);
  observeChanges(seen.view, view, leader);
  const rates = new Map(view.members.map((m) => [m.id, ratesOf(m.id, statusOf(m), view.at)]));
  // Notes compare against the previous poll, so they are drawn before this poll is remembered.
  renderSummary(view, leader);
  renderNotes(view, leader);
  for (const m of view.members) {
    const s = statusOf(m);
    if (s !== null) seen.lastStatus.set(m.id, { at: view.at, status: s });
  }
  renderMembers(view, leader, rates);
  renderLogs(view, leader);
  renderTimeline();
  renderMembership(view, leader);
  renderFaults(view, leader);
  seen.prevLeaderCommit = leader?.status.commitIndex ?? null;
  seen.view = view;
  if (seen.pageNodeDown) seen.pageNodeDown = false;
}

/** The node that serves the page does not answer (or answers an error): keep the last picture, say so. */
function pageNodeFailed(why) {
  const el = $('#summary');
  el.className = 'down';
  el.textContent = `this node does not answer: ${why} — retrying every second`;
  if (!seen.pageNodeDown) {
    seen.pageNodeDown = true;
    note(Date.now(), `the node serving this page does not answer: ${why}`, 'bad');
    renderTimeline();
  }
  for (const row of document.querySelectorAll('#nodes tbody tr')) row.classList.add('unreachable');
}

let timer = null;
let inFlight = false;
let signedOut = false;

async function poll() {
  timer = null;
  if (document.visibilityState === 'hidden' || inFlight) return;
  inFlight = true;
  try {
    const a = await api('GET', '/ui/state', undefined, stateTimeoutMs);
    if (a.status === 401 || a.status === 403) {
      askForToken(a);
      return; // no polling until a token is given
    }
    if (a.status !== 200) pageNodeFailed(describeError(a));
    else {
      $('#auth').hidden = true;
      update(a.body);
      if (!seen.keysListed) {
        seen.keysListed = true;
        listKeys(true);
      }
    }
  } catch (e) {
    pageNodeFailed(describeFailure(e));
  } finally {
    inFlight = false;
  }
  schedule();
}

/** A poll now instead of at the next tick (after a button): the pending one is replaced. */
function pollNow() {
  if (inFlight || signedOut) return;
  clearTimeout(timer);
  timer = null;
  void poll();
}

function schedule() {
  if (timer === null && !inFlight && !signedOut && document.visibilityState !== 'hidden')
    timer = setTimeout(poll, pollMs);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') {
    seen.hiddenSinceLeader = true;
    clearTimeout(timer);
    timer = null;
  } else if (timer === null && !inFlight && !signedOut) poll();
});

// ---------------------------------------------------------------------------------------------
// Auth

function askForToken(a) {
  signedOut = true;
  $('#auth').hidden = false;
  $('#auth-why').textContent =
    a.status === 401
      ? `The node asks for a token (${describeError(a)}).`
      : `This token may not see the cluster view (${describeError(a)}); it needs the admin role.`;
  const el = $('#summary');
  el.className = 'down';
  el.textContent = 'signed out';
}

$('#auth-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = ev.target.elements.token;
  sessionStorage.setItem(tokenKey, input.value.trim());
  input.value = '';
  signedOut = false;
  poll();
  if (seen.keysListed) listKeys(true);
});

// ---------------------------------------------------------------------------------------------
// Key browser and write form

const keys = { prefix: '', lastKey: null };

function kvMessage(text, kind) {
  const el = $('#kv-message');
  el.className = kind;
  el.textContent = text;
}

function kvFailed(what, a) {
  kvMessage(`${what}: ${describeError(a)}`, 'error');
  if (a.status === 401) askForToken(a);
}

async function listKeys(reset) {
  if (reset) {
    keys.prefix = $('#list-form').elements.prefix.value;
    keys.lastKey = null;
  }
  let path = `/kv?prefix=${encodeURIComponent(keys.prefix)}&limit=${listLimit}`;
  if (keys.lastKey !== null) path += `&startAfter=${encodeURIComponent(keys.lastKey)}`;
  let a;
  try {
    a = await api('GET', path);
  } catch (e) {
    kvMessage(`list: ${describeFailure(e)}`, 'error');
    return;
  }
  if (a.status !== 200) {
    kvFailed('list', a);
    return;
  }
  const rows = a.body.items.map((item) =>
    h(
      'tr',
      { 'data-key': item.key },
      h('td', {}, item.key),
      h('td', { class: 'value', title: item.value }, item.value),
      h('td', { class: 'num' }, String(item.version ?? '')),
      h('td', { class: 'num' }, String(item.modIndex ?? '')),
      h(
        'td',
        {},
        h('button', { type: 'button', class: 'danger', onclick: () => deleteKey(item.key) }, 'delete'),
      ),
    ),
  );
  if (reset) $('#keys tbody').replaceChildren(...rows);
  else $('#keys tbody').append(...rows);
  if (a.body.items.length > 0) keys.lastKey = a.body.items.at(-1).key;
  $('#more').hidden = !a.body.more;
  if (reset && a.body.items.length === 0)
    kvMessage(keys.prefix === '' ? 'no keys' : `no keys under "${keys.prefix}"`, '');
}

async function deleteKey(key) {
  try {
    const a = await api('DELETE', `/kv/${encodeURIComponent(key)}`);
    if (a.status !== 200) return kvFailed(`delete ${key}`, a);
    kvMessage(
      a.body.deleted ? `deleted ${key} at index ${a.body.index ?? '?'}` : `${key} was not there`,
      'ok',
    );
    listKeys(true);
  } catch (e) {
    kvMessage(`delete ${key}: ${describeFailure(e)}`, 'error');
  }
}

$('#list-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  kvMessage('', '');
  listKeys(true);
});

$('#more').addEventListener('click', () => listKeys(false));

$('#write-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const key = form.elements.key.value;
  const value = form.elements.value.value;
  kvMessage(`writing ${key}…`, '');
  try {
    const a = await api('POST', '/kv', { key, value });
    if (a.status !== 200) return kvFailed(`write ${key}`, a);
    kvMessage(`wrote ${key} at index ${a.body.index} (version ${a.body.version ?? '?'})`, 'ok');
    listKeys(true);
  } catch (e) {
    // No answer: the write may still commit (the API's "outcome unknown").
    kvMessage(`write ${key}: ${describeFailure(e)} — it may still have been applied`, 'error');
  }
});

poll();
// A run this tab was following before a reload.
if (sessionStorage.getItem(exerciseRunKey) !== null)
  followRun({ run: sessionStorage.getItem(exerciseRunKey) }, false);
