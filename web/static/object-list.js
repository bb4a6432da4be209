// The list of objects: show / hide, the colour from the server, the 3 candidates of a click, refine and remove.
import { describe } from './canvas-view.js';

const button = (text, label, onClick, pressed) => {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  if (pressed !== undefined) b.setAttribute('aria-pressed', String(pressed));
  b.addEventListener('click', onClick);
  return b;
};

/** Whether clicks can refine the object: any tracked video object, an image's clicked objects. */
export const refinable = (media, o) => !!media && (media.kind === 'video' || !!o.points);

export function createObjectList({ list, empty }, store, actions) {
  store.subscribe((state, changed) => {
    if ('objects' in changed || 'hidden' in changed || 'editing' in changed || 'media' in changed) render(state);
  });

  function render({ objects, hidden, editing, media }) {
    list.textContent = '';
    for (const o of objects) list.append(item(o, hidden, editing, media));
    empty.hidden = objects.length > 0;
  }

  function item(o, hidden, editing, media) {
    const li = document.createElement('li');
    li.dataset.id = String(o.id);
    if (o.id === editing) li.classList.add('editing');
    const label = document.createElement('label');
    const shown = document.createElement('input');
    shown.type = 'checkbox';
    shown.checked = !hidden.has(o.id);
    shown.addEventListener('change', () => actions.toggle(o.id, shown.checked));
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = o.colour;
    swatch.setAttribute('aria-hidden', 'true');
    const text = document.createElement('span');
    text.textContent = describe(o);
    label.append(shown, swatch, text);
    li.append(label);
    if (o.candidates) li.append(candidates(o));
    if (refinable(media, o)) {
      li.append(button(o.id === editing ? 'Editing' : 'Refine', `Refine object #${o.id} with clicks`, () => actions.edit(o.id)));
    }
    li.append(button('Remove', `Remove object #${o.id}`, () => actions.remove(o.id)));
    return li;
  }

  function candidates(o) {
    const group = document.createElement('span');
    group.className = 'candidates';
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', `Candidates of object #${o.id}`);
    o.candidates.forEach((c, i) => {
      const b = button(String(i + 1), `Candidate ${i + 1} of object #${o.id}`, () => actions.choose(o.id, i), i === o.chosen);
      b.title = `score ${c.score.toFixed(2)}, ${c.area} px`;
      group.append(b);
    });
    return group;
  }
}
