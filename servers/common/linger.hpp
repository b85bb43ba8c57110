// A lingering close, for the one time a server closes a connection on its own: after refusing
// an over-long question (Apache's lingering_close(), nginx's lingering_close).
//
// Why: close() on a socket whose client is still sending, or whose input the server has not
// read, makes the kernel send a reset instead of a FIN, and a reset throws away every answer
// byte not yet delivered: a large refusal (--reply-bytes 2000000), or any refusal to a client
// that keeps sending, would be cut short. So the server shuts its write side down instead (the
// client gets the whole refusal, then EOF), reads and discards what the client still sends,
// and closes only when the client has closed its side, or reset, or after a bound.
//
// Where: on a thread of its own, started on first use, so that no architecture waits for it:
// `single` is not held by an abuser, and an event loop needs no timer per connection. The
// lingering socket costs its descriptor until it closes, for 2 seconds at most.
#pragma once

#include <chrono>
#include <cstddef>

namespace archbench {

// A lingering socket is closed at the first of: the client's EOF or reset; this long without a
// byte from the client; this many bytes discarded; this long in all.
inline constexpr std::chrono::milliseconds kLingerQuietPeriod{200};
inline constexpr std::size_t kLingerMostDiscarded = 1 << 20;
inline constexpr std::chrono::milliseconds kLingerMostTime{2000};

// Takes `fd` over (the caller must not close it, and must have stopped watching it in any
// epoll set of its own): shuts its write side down at once, then lingers as above and closes it.
// Where no lingering thread can be had (out of descriptors or threads), it discards what has
// arrived and closes at once. A blocking server that keeps its own descriptor passes a dup().
void close_lingering(int fd);

// Waits until every socket given to close_lingering() by this process is closed, for
// kLingerMostTime at most: for a process that exits once its client is served (forked's child),
// since exiting would end the lingering thread with it.
void finish_lingering_closes();

}  // namespace archbench
