package elections

// HoldWrites makes s's verified casts wait in the writer's queue, as they
// do while every writer is busy: queued says how many wait, and release
// lets them be written, together.
func HoldWrites(s *Store) (queued func() int, release func()) {
	w := s.writer
	w.mu.Lock()
	held := w.writers
	w.running += held
	w.mu.Unlock()
	queued = func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.queue)
	}
	release = func() {
		w.mu.Lock()
		w.running -= held
		if len(w.queue) > 0 && w.running < w.writers {
			w.running++
			go w.work()
		}
		w.mu.Unlock()
	}
	return queued, release
}
