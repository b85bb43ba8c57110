// go-goroutines: the Zen service in Go, one goroutine per connection: the worked example of an
// architecture in another language (servers/external/go-goroutines.toml declares it).
//
// How it works: archbench-server listens, then runs this program with the listening socket as
// descriptor 3 and every server flag (servers/common/external.hpp). The main goroutine accepts;
// each client gets a goroutine that holds the blocking conversation of `threaded`: read, answer
// every complete question, write. Go's runtime parks a goroutine that waits for its socket in
// its own epoll poller and runs the ready ones on --threads OS threads (GOMAXPROCS).
// Good at: thread-per-client code without a kernel thread per client: a goroutine starts with a
// stack of a few KiB and is switched by the runtime, and --sleep-us blocks only the goroutine
// that sleeps.
// Where it breaks: the runtime is a scheduler and a garbage collector of its own, paid for in
// CPU and memory; a goroutine in a blocking system call or a CPU-heavy request holds an OS
// thread, as a thread per client would.
// --protocol http answers HTTP/1.1 instead (http.go), over the same loop.
// From: Go's net/http server ("go c.serve(ctx)" for each accepted connection).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The protocol, as protocol/zen.hpp defines it.
var answers = map[string]string{
	"Beautiful is better than?": "Ugly.",
	"Explicit is better than?":  "Implicit.",
	"Simple is better than?":    "Complex.",
}

const (
	unknownAnswer = "Error: unknown aphorism."
	tooLongAnswer = "Error: request too long."
	outputBound   = 1 << 20 // answers to one read stay about this small (servers/common/net.hpp)
)

type config struct {
	workUs, sleepUs, replyBytes, maxRequest, maxConnections int
	idleTimeout                                             time.Duration
	protocol                                                string // zen or http (http.go)
}

// burnCPU burns us microseconds of this thread's CPU time, as zen::burn_cpu does: the goroutine
// stays on its thread meanwhile, so that the thread's clock counts only its work.
func burnCPU(us int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() time.Duration {
		var now syscall.Timespec
		const clockThreadCPUTimeID = 3
		syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&now)), 0)
		return time.Duration(now.Nano())
	}
	for until := threadCPU() + time.Duration(us)*time.Microsecond; threadCPU() < until; {
	}
}

// talker is one client's conversation in either protocol: bytes in, answers out; closing: the
// server sends them, then closes (lingering).
type talker interface {
	onInput(in, out []byte) (_ []byte, closing bool)
	questionsAnswered() int
}

// conversation frames one client's bytes at every '?' (zen::Conversation).
type conversation struct {
	cfg      *config
	padding  []byte
	partial  []byte // an unfinished question split across reads
	answered int
}

func (c *conversation) questionsAnswered() int { return c.answered }

// doWork applies the per-request knobs: burn, then block (zen::do_request_work).
func (c *conversation) doWork() {
	if c.cfg.workUs > 0 {
		burnCPU(c.cfg.workUs)
	}
	time.Sleep(time.Duration(c.cfg.sleepUs) * time.Microsecond)
}

func (c *conversation) appendAnswer(out []byte, answer string) []byte {
	if len(answer) >= c.cfg.replyBytes {
		return append(out, answer...)
	}
	out = append(out, answer[:len(answer)-1]...)
	out = append(out, c.padding[:c.cfg.replyBytes-len(answer)]...)
	return append(out, '.')
}

// onInput appends the answers to every question `in` completes; tooLong: a question reached
// --max-request without its '?', and the refusal is the last answer.
func (c *conversation) onInput(in, out []byte) (_ []byte, tooLong bool) {
	for len(in) > 0 {
		if len(c.partial) == 0 {
			in = bytes.TrimLeft(in, "\r\n") // a question typed into nc, one per line
			if len(in) == 0 {
				break
			}
		}
		limit := c.cfg.maxRequest - len(c.partial)
		end := bytes.IndexByte(in, '?')
		if end < 0 || end >= limit {
			if len(in) >= limit {
				return c.appendAnswer(out, tooLongAnswer), true
			}
			c.partial = append(c.partial, in...)
			break
		}
		question := in[:end+1]
		if len(c.partial) > 0 {
			c.partial = append(c.partial, question...) // kept, with its capacity, for the next
			question = c.partial
		}
		c.doWork()
		answer, known := answers[string(question)]
		if !known {
			answer = unknownAnswer
		}
		out = c.appendAnswer(out, answer)
		c.answered++
		c.partial = c.partial[:0]
		in = in[end+1:]
	}
	return out, false
}

type server struct {
	cfg      config
	readSize int
	mu       sync.Mutex
	conns    map[net.Conn]struct{} // open clients, closed by a stop
	stopping bool
	serving  sync.WaitGroup
}

// admit counts c among the open clients, unless it is one beyond --max-connections or a stop began.
func (s *server) admit(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || (s.cfg.maxConnections > 0 && len(s.conns) >= s.cfg.maxConnections) {
		return false
	}
	s.conns[c] = struct{}{}
	s.serving.Add(1)
	return true
}

func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	for c := range s.conns {
		c.Close() // wakes its goroutine in Read or Write
	}
}

func (s *server) serve(c *net.TCPConn) {
	refused := s.converse(c)
	s.mu.Lock()
	delete(s.conns, c) // its place under --max-connections given back
	s.mu.Unlock()
	s.serving.Done()
	if refused {
		lingeringClose(c)
	} else {
		c.Close()
	}
}

// converse serves one client until it leaves, idles past --idle-timeout (counted from its
// connection or its last question, as IdleClock does), or is refused or sent an answer after
// which the server closes (true: its socket then lingers).
func (s *server) converse(c *net.TCPConn) bool {
	zen := conversation{cfg: &s.cfg, padding: bytes.Repeat([]byte{'-'}, s.cfg.replyBytes)}
	var talk talker = &zen
	if s.cfg.protocol == "http" {
		talk = &httpConversation{conversation: zen}
	}
	in := make([]byte, s.readSize)
	var out []byte
	deadline, answered := time.Now().Add(s.cfg.idleTimeout), 0
	for {
		if s.cfg.idleTimeout > 0 {
			if talk.questionsAnswered() != answered {
				deadline, answered = time.Now().Add(s.cfg.idleTimeout), talk.questionsAnswered()
			}
			c.SetReadDeadline(deadline)
		}
		n, err := c.Read(in)
		if err != nil {
			return false // EOF, reset, the idle deadline, or closed by a stop
		}
		var closing bool
		out, closing = talk.onInput(in[:n], out[:0])
		if _, err := c.Write(out); err != nil || closing {
			return err == nil
		}
	}
}

// lingeringClose (servers/common/linger.hpp): after a refusal, shut the write side, then discard
// what the client still sends until it closes, goes quiet for 200 ms, sends 1 MiB or 2 s pass,
// so that the close does not send a reset that would throw the refusal away.
func lingeringClose(c *net.TCPConn) {
	defer c.Close()
	c.CloseWrite()
	discarded, end := make([]byte, 16*1024), time.Now().Add(2*time.Second)
	for total := 0; total < 1<<20; {
		quiet := time.Now().Add(200 * time.Millisecond)
		if quiet.After(end) {
			quiet = end
		}
		c.SetReadDeadline(quiet)
		n, err := c.Read(discarded)
		if err != nil {
			return
		}
		total += n
	}
}

// strerror(3)'s spelling of an errno ("Too many open files"), as the C++ servers print it.
func describe(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		text := errno.Error()
		return strings.ToUpper(text[:1]) + text[1:]
	}
	return err.Error()
}

func (s *server) acceptLoop(listener net.Listener) {
	for pause := time.Duration(0); ; {
		c, err := listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			return // stopped
		}
		if err != nil {
			// Out of descriptors, the client waits in the backlog: retrying at once would spin.
			if pause == 0 {
				fmt.Fprintf(os.Stderr, "go-goroutines: accept: %s; retrying every 10 to 100 ms\n", describe(err))
				pause = 5 * time.Millisecond
			}
			if pause *= 2; pause > 100*time.Millisecond {
				pause = 100 * time.Millisecond
			}
			time.Sleep(pause)
			continue
		}
		pause = 0
		if !s.admit(c) {
			c.Close() // beyond --max-connections: closed at once
			continue
		}
		go s.serve(c.(*net.TCPConn))
	}
}

func main() {
	s := &server{conns: map[net.Conn]struct{}{}}
	listenFD := flag.Int("listen-fd", 3, "the listening socket archbench-server passes")
	threads := flag.Int("threads", runtime.NumCPU(), "OS threads that run goroutines (GOMAXPROCS)")
	flag.Int("processes", 1, "not used: one process, as for every architecture but the process pools")
	flag.IntVar(&s.cfg.workUs, "work-us", 0, "CPU microseconds burnt per request")
	flag.IntVar(&s.cfg.sleepUs, "sleep-us", 0, "microseconds slept per request")
	flag.IntVar(&s.cfg.replyBytes, "reply-bytes", 0, "pad every answer to this many bytes")
	flag.IntVar(&s.cfg.maxRequest, "max-request", 1024, "longest question, in bytes")
	idleMs := flag.Int("idle-timeout-ms", 0, "disconnect a client idle this long (0: off)")
	flag.IntVar(&s.cfg.maxConnections, "max-connections", 0, "close clients beyond this many (0: no limit)")
	flag.StringVar(&s.cfg.protocol, "protocol", "zen", "zen or http (HTTP/1.1, http.go)")
	flag.Parse()
	if s.cfg.protocol != "zen" && s.cfg.protocol != "http" {
		fmt.Fprintf(os.Stderr, "go-goroutines: --protocol must be zen or http, not %q\n", s.cfg.protocol)
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*threads)
	s.cfg.idleTimeout = time.Duration(*idleMs) * time.Millisecond
	if s.cfg.maxRequest < 1 {
		s.cfg.maxRequest = 1
	}
	// Each byte read ends at most one question: a read this small cannot owe more than about
	// outputBound bytes of answers (bounded_read_size in servers/common/net.cpp).
	s.readSize = 16 * 1024
	longest := s.cfg.replyBytes
	if s.cfg.protocol == "http" {
		longest += 160 // an answer's status line and headers (zen.HTTP_LONGEST_HEAD)
	}
	if longest > len(unknownAnswer) && outputBound/longest < s.readSize {
		s.readSize = outputBound / longest
	}
	if s.readSize == 0 {
		s.readSize = 1
	}

	file := os.NewFile(uintptr(*listenFD), "listener")
	listener, err := net.FileListener(file) // a duplicate of it, made non-blocking
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-goroutines: descriptor %d: %v\n", *listenFD, err)
		os.Exit(1)
	}
	file.Close()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		listener.Close()
		s.stop()
	}()
	s.acceptLoop(listener)
	// Every goroutine that serves a client ends once its socket is closed; one that is still in
	// a request (--work-us, --sleep-us) gets a second, then ends with the process.
	done := make(chan struct{})
	go func() { s.serving.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}
