// Package consume runs a JetStream pull consumer: one fetch loop and one handler contract for
// every adjoin consumer (the detection runner, the correlator's stages and incident builder).
//
// The contract, written once here: a Handler gets a Batch of fetched messages and a context
// that outlives shutdown for two thirds of AckWait (the batch in hand is finished, never cut).
// Every message it does not settle itself is settled by what it returns:
//
//   - nil → Ack.
//   - an error → NakWithDelay, 1s after the first delivery doubling up to 32s; at the
//     MaxDeliveries-th delivery the message is terminated with a copy on DEADLETTER under
//     Runner.FailReason ("still failing at delivery n of N: cause"), so a message no attempt
//     can handle does not come back forever, and everything else has flowed past it meanwhile.
//   - an error that is an outage (natsx.IsOutage: a publish or write not acknowledged in time,
//     no responders, the connection down, a stream not available) → NakWithDelay likewise, but
//     never dead-lettered: the message is not at fault, and under an overloaded or restarting
//     server a limit would send good messages, whose effects may not have landed, to DEADLETTER.
//   - an error made by Reject → terminated at once with a copy on DEADLETTER under its reason
//     (an undecodable payload: no retry can heal it).
//
// MaxDeliveries has one rule for every consumer: 0 means natsx.MaxDeliveries (10), never
// "retry forever"; deliveries cut short by a crash count too, so it bounds the attempts. A
// dead letter that cannot be stored leaves its message pending (redelivered in 5s): nothing
// is given up without its copy. Each dead letter is counted in adjoin_deadletters_total
// {service, reason} and logged.
//
// Creating the consumer at the start is retried every second while the server does not answer
// or answers 5xx (a leader being elected); only a refusal (the stream missing) fails Run.
// Pulls that keep failing (three in a row, or one refused by the server: the durable deleted,
// set to another configuration, a consumer leader lost in a cluster) get the consumer
// configured again through Runner.Consumer. When ctx ends, Run returns once the batches in
// hand are settled; messages a fetch brings after that are handed back at once.
package consume
