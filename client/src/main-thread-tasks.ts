// One piece of work per task: a view that mounts four charts creates them in four tasks rather
// than one long one, so the main thread never blocks for long (the browser can paint and take
// input in between). MessageChannel rather than setTimeout: no 4 ms clamp.
const queue: (() => void)[] = [];
const channel = new MessageChannel();
let posted = false;

channel.port1.onmessage = () => {
  posted = false;
  const task = queue.shift();
  if (queue.length > 0) post();
  task?.();
};

function post(): void {
  if (posted) return;
  posted = true;
  channel.port2.postMessage(null);
}

/** Runs `fn` in a task of its own after the current one; returns a function that cancels it. */
export function inOwnTask(fn: () => void): () => void {
  queue.push(fn);
  post();
  return () => {
    const i = queue.indexOf(fn);
    if (i >= 0) queue.splice(i, 1);
  };
}
