// Peer worker: does nothing. The ceiling for any worker on this runtime.
export default {
  fetch() {
    return new Response("ok");
  },
};
