// Help where the terms are: a "?" next to each control and metric (HelpTip), the help panel with every
// term and the scores' chance levels, and the "Real data" page (docs/real-data.md, rendered here so the
// studio and the docs say the same). Everything opens and closes from the keyboard (Enter/Space, Escape).
import { Fragment, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import realDataMd from '../../docs/real-data.md?raw';
import { HELP, HELP_SECTIONS, type HelpId } from './helpText';

/** A "?" button that shows the term's explanation under it; Escape closes it. */
export function HelpTip({ id }: { id: HelpId }) {
  const [open, setOpen] = useState(false);
  const popId = useId();
  const entry = HELP[id];
  const close = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape' && open) {
      e.stopPropagation();
      setOpen(false);
    }
  };
  return (
    <span className="help-tip-wrap" onKeyDown={close}>
      {/* Named "?" with the term as its description (title), not as its name: a name such as "Help: Steps"
          would also answer to the labels and button names of the controls themselves ("Step", "Split"). */}
      <button
        type="button"
        className="help-tip"
        aria-expanded={open}
        aria-controls={popId}
        title={`Help: ${entry.title}`}
        data-testid={`help-${id}`}
        onClick={() => setOpen(!open)}
      >
        ?
      </button>
      {open ? (
        <span id={popId} role="note" className="help-pop" data-testid={`help-${id}-text`}>
          <strong>{entry.title}.</strong> {entry.body}
        </span>
      ) : null}
    </span>
  );
}

/** One line under the scores: what each means at chance. */
export function ScoreLegend() {
  return (
    <span className="muted small" data-testid="score-legend">
      PCC / SSIM: grey, at the ground truth’s resolution; 1 = identical, about 0 at chance (an unrelated image). CNN: the class the eval
      classifier sees, right by chance 1 in 10. <HelpTip id="pcc" /> <HelpTip id="ssim" /> <HelpTip id="cnnClass" />
    </span>
  );
}

export type HelpPage = 'help' | 'real-data';

/** The help panel: every term, or the Real data page. Focus moves to its heading; Escape closes it. */
export function HelpPanel({ page, onPage, onClose }: { page: HelpPage; onPage: (p: HelpPage) => void; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, [page]);
  return (
    <section
      className="panel help-panel"
      aria-labelledby="help-h"
      data-testid="help-panel"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <div className="help-head">
        <h2 id="help-h" tabIndex={-1} ref={heading}>
          {page === 'help' ? 'Help: terms, controls and scores' : 'Real data and checkpoints'}
        </h2>
        <span className="button-row">
          <button type="button" onClick={() => onPage(page === 'help' ? 'real-data' : 'help')}>
            {page === 'help' ? 'Real data and checkpoints' : 'Terms and controls'}
          </button>
          <button type="button" onClick={onClose} data-testid="close-help">
            Close
          </button>
        </span>
      </div>
      {page === 'help' ? (
        <Terms />
      ) : (
        <div className="markdown" data-testid="real-data">
          {renderMarkdown(realDataMd)}
        </div>
      )}
    </section>
  );
}

function Terms() {
  return (
    <div className="help-terms">
      <p className="muted">
        Figures from the bundled <strong>god-synth</strong> set are from a SIMULATED data set (responses of an encoding model to
        Fashion-MNIST images), not brain data.
      </p>
      {HELP_SECTIONS.map((s) => (
        <Fragment key={s.title}>
          <h3>{s.title}</h3>
          <dl>
            {s.ids.map((id) => (
              <Fragment key={id}>
                <dt>{HELP[id].title}</dt>
                <dd>{HELP[id].body}</dd>
              </Fragment>
            ))}
          </dl>
        </Fragment>
      ))}
      <h3>Chance levels at a glance</h3>
      <table data-testid="chance-levels">
        <thead>
          <tr>
            <th scope="col">score</th>
            <th scope="col">chance</th>
            <th scope="col">perfect</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <td>2-way identification</td>
            <td>0.5</td>
            <td>1</td>
          </tr>
          <tr>
            <td>n-way identification (50-way)</td>
            <td>1/n (0.02)</td>
            <td>1</td>
          </tr>
          <tr>
            <td>CNN class (10 Fashion-MNIST classes)</td>
            <td>0.1</td>
            <td>1</td>
          </tr>
          <tr>
            <td>PCC</td>
            <td>≈ 0</td>
            <td>1</td>
          </tr>
          <tr>
            <td>SSIM</td>
            <td>≈ 0 (depends on the images’ smoothness)</td>
            <td>1</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

/** `code`, [text](https://…) and **bold** inside a line of the markdown. */
function inline(text: string, key: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /`([^`]+)`|\[([^\]]+)\]\((https?:[^)]+)\)|\*\*([^*]+)\*\*/g;
  let last = 0,
    m: RegExpExecArray | null,
    i = 0;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const k = `${key}-${i++}`;
    if (m[1] !== undefined) out.push(<code key={k}>{m[1]}</code>);
    else if (m[2] !== undefined)
      out.push(
        <a key={k} href={m[3]} target="_blank" rel="noreferrer noopener">
          {m[2]}
        </a>,
      );
    else out.push(<strong key={k}>{m[4]}</strong>);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * The subset of markdown docs/real-data.md uses: # headings, paragraphs, - lists, ``` code blocks and
 * | tables |. Anything else shows as text (never as HTML: no injection from the doc).
 */
export function renderMarkdown(md: string): ReactNode[] {
  const lines = md.split('\n');
  const out: ReactNode[] = [];
  let i = 0,
    k = 0;
  while (i < lines.length) {
    const line = lines[i];
    const key = `md${k++}`;
    if (line.startsWith('```')) {
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
      i++;
      out.push(
        <pre key={key}>
          <code>{body.join('\n')}</code>
        </pre>,
      );
    } else if (/^#{1,3} /.test(line)) {
      const level = line.indexOf(' ');
      const text = line.slice(level + 1);
      // The page's own title is the panel heading.
      if (level > 1) out.push(level === 2 ? <h3 key={key}>{inline(text, key)}</h3> : <h4 key={key}>{inline(text, key)}</h4>);
      i++;
    } else if (line.startsWith('- ')) {
      const items: string[] = [];
      while (i < lines.length && (lines[i].startsWith('- ') || (lines[i].startsWith('  ') && items.length))) {
        if (lines[i].startsWith('- ')) items.push(lines[i].slice(2));
        else items[items.length - 1] += ` ${lines[i].trim()}`;
        i++;
      }
      out.push(
        <ul key={key}>
          {items.map((t, j) => (
            <li key={j}>{inline(t, `${key}-${j}`)}</li>
          ))}
        </ul>,
      );
    } else if (line.startsWith('|')) {
      const rows: string[][] = [];
      while (i < lines.length && lines[i].startsWith('|')) {
        if (!/^\|[-| ]+\|$/.test(lines[i]))
          rows.push(
            lines[i]
              .slice(1, -1)
              .split('|')
              .map((c) => c.trim()),
          );
        i++;
      }
      const [head, ...body] = rows;
      out.push(
        <table key={key}>
          <thead>
            <tr>
              {head.map((c, j) => (
                <th key={j} scope="col">
                  {inline(c, `${key}-h${j}`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.map((r, j) => (
              <tr key={j}>
                {r.map((c, l) => (
                  <td key={l}>{inline(c, `${key}-${j}-${l}`)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>,
      );
    } else if (line.trim() === '') {
      i++;
    } else {
      const para: string[] = [];
      while (i < lines.length && lines[i].trim() !== '' && !/^(#|- |```|\|)/.test(lines[i])) para.push(lines[i++]);
      out.push(<p key={key}>{inline(para.join(' '), key)}</p>);
    }
  }
  return out;
}
