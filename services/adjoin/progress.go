package adjoin

import (
	"sync"
	"time"
)

// everyHalfSecond calls show every half second until the returned stop is called; stop waits
// for a call in progress and may be called more than once. Long commands use it for their
// progress line.
func everyHalfSecond(show func()) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				show()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}
