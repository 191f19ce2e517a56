// Package syslog receives syslog messages (RFC 5424 and RFC 3164) over TCP and UDP and hands
// them, in batches, to a function that stores them.
//
// # Framing
//
// TCP framing (RFC 6587) is detected once per connection, on its first message: a length, a
// space and the message (octet counting), or messages ended by LF (non-transparent framing,
// with an optional CR before the LF). Octet counting is the safe choice for senders: it
// carries messages with line breaks. On an octet-counted connection a frame that does not
// start with a length ends the connection, since nothing after it can be trusted. A UDP
// datagram is one message (RFC 5426).
//
// # Oversized messages
//
// A message longer than Server.MaxMessage is refused, and the connection goes on: the rest of
// the message is skipped (its length is known when octet-counted, and it ends at the next LF
// otherwise) and the next message is read normally. Closing the connection instead would make
// a sender that retries resend the same message forever and block everything queued behind it.
// The refusal is not silent: Handle receives the message with Oversize set to its size and Raw
// holding its first 4 KiB, so it can be recorded (package intake dead-letters it).
//
// # Durability and backpressure (TCP)
//
// Each connection is read by its own goroutine: it takes a first message, then more for up to
// BatchDelay or MaxBatch messages, calls Handle, and reads nothing more until Handle returned.
// A sender faster than storage therefore sees its TCP window fill and waits, instead of
// messages piling up in memory. Handle is expected to return only once the batch is stored
// (JetStream acknowledged it); when it fails the connection is closed, the only failure signal
// a plain syslog sender understands, so that it reconnects and resends what it still holds.
// Plain TCP syslog has no application acknowledgement: bytes the kernel had accepted but the
// server had not yet read when the connection closes are lost unless the sender resends them.
// Messages carry deterministic ids downstream, so what is resent twice is stored once.
//
// # UDP is best effort
//
// UDP has no acknowledgement and no flow control: a datagram dropped by the network, or by the
// kernel because the socket buffer was full while Handle ran, is gone without a trace, and a
// batch Handle failed to store is lost (it is logged with its size). Use TCP for anything that
// counts; UDP is there for devices that can do nothing else.
//
// # Shutdown
//
// When Run's context ends the listener closes, blocked reads are woken, every connection
// hands the messages it already read to Handle (whose context lasts ShutdownGrace longer) and
// closes, and Run returns.
package syslog
