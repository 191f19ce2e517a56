package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuWindow tells how much of the machine's CPU other processes took while a phase ran, so a
// figure measured beside someone else's build can be told from a clean one. The machine's busy
// time comes from /proc/stat; this run's own from getrusage (this process, and children it
// has waited for) and /proc/<pid>/stat (the service processes running through the window).
type cpuWindow struct {
	at         time.Time
	busy, self time.Duration
	pids       []int
	children   time.Duration
}

// clockTick is USER_HZ, the unit of /proc times; 100 on every Linux Go runs on.
const clockTick = time.Second / 100

func startCPUWindow(pids ...int) cpuWindow {
	return cpuWindow{at: time.Now(), busy: machineBusy(), self: ownCPU(), pids: pids, children: procsCPU(pids)}
}

// otherShare is the share of the machine's CPU (0 to 1) that processes other than this run
// used since the window started; 0 when /proc cannot tell.
func (w cpuWindow) otherShare() float64 {
	wall := time.Since(w.at)
	busy := machineBusy() - w.busy
	own := ownCPU() - w.self + procsCPU(w.pids) - w.children
	if wall <= 0 || busy <= 0 {
		return 0
	}
	share := float64(busy-own) / float64(wall*time.Duration(runtime.NumCPU()))
	return min(max(share, 0), 1)
}

// machineBusy is the CPU time every process and the kernel used, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// ownCPU is the user and system time of this process and of the children it has waited for.
func ownCPU() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// procsCPU is the user and system time of running processes, from /proc/<pid>/stat.
func procsCPU(pids []int) time.Duration {
	// utime and stime, fields 14 and 15 of stat.
	return time.Duration(sumStat(pids, 14)+sumStat(pids, 15)) * clockTick
}

// procsFaults is the minor page faults of running processes so far, from /proc/<pid>/stat:
// on a virtual machine a fault is dear, and a process touching memory it has not touched
// before (its heap growing back after a load returned it to the system) shows here first.
func procsFaults(pids []int) int64 {
	return sumStat(pids, 10) // minflt
}

// sumStat adds up field (numbered from 1, as proc(5) does) of /proc/<pid>/stat over pids,
// skipping a process that has ended.
func sumStat(pids []int, field int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The command name (field 2) is in parentheses and may hold spaces: count the fields
		// after it, the first of them field 3.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < field-2 {
			continue
		}
		n, _ := strconv.ParseInt(f[field-3], 10, 64)
		total += n
	}
	return total
}

// AlertCPU is the CPU time each process spent per 1,000 alerts of a throughput phase (from
// the first publish until the incident builder caught up): what a size costs each of them,
// whatever the wall time a shared machine gives it. Server is the harness's process, mostly
// the embedded JetStream server.
type AlertCPU struct {
	CorrelatorMs float64 `json:"correlator_ms"`
	BadgeMs      float64 `json:"badge_ms"`
	ServerMs     float64 `json:"server_ms"`
}

// String is the CPU times in a phrase, for the report.
func (c AlertCPU) String() string {
	return fmt.Sprintf("CPU per 1,000 alerts: correlator %.0f ms, badge %.0f ms, server %.0f ms", c.CorrelatorMs, c.BadgeMs, c.ServerMs)
}

// procClock is the CPU time used so far by the correlator, the badge service and this process.
type procClock struct{ correlator, badge, self time.Duration }

func readProcClock(svc *services) procClock {
	pids := svc.pids()
	return procClock{correlator: procsCPU(pids[:1]), badge: procsCPU(pids[1:]), self: ownCPU()}
}

// per1k is the CPU each used since c, per 1,000 of alerts.
func (c procClock) per1k(svc *services, alerts int) AlertCPU {
	now := readProcClock(svc)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) * 1000 / float64(alerts) }
	return AlertCPU{CorrelatorMs: ms(now.correlator - c.correlator), BadgeMs: ms(now.badge - c.badge), ServerMs: ms(now.self - c.self)}
}

// quietShare is the share of a core below which a service counts as idle (waitQuiet): its
// heartbeats and timers, not work left over from a load. quietMachine is the same for the
// whole machine (every process and the kernel, on all its cores).
const (
	quietShare   = 0.05
	quietMachine = 0.25
)

// waitQuiet waits until the processes pids used less than quietShare of a core each over one
// second, and the whole machine less than quietMachine of a core, at most within, and returns
// how long it waited. After a load the correlator still writes its partition snapshots and
// incident updates for a few seconds, and the JetStream server and the kernel write back what
// it stored; a figure that compares one server with another (GetBadge, the paired scale) would
// otherwise carry that into whichever round it falls on.
func waitQuiet(pids []int, within time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < within {
		before := make([]time.Duration, len(pids))
		for i, pid := range pids {
			before[i] = procsCPU([]int{pid})
		}
		busy := machineBusy()
		time.Sleep(time.Second)
		quiet := float64(machineBusy()-busy) < quietMachine*float64(time.Second)
		for i, pid := range pids {
			if used := procsCPU([]int{pid}) - before[i]; float64(used) > quietShare*float64(time.Second) {
				quiet = false
			}
		}
		if quiet {
			break
		}
	}
	return time.Since(start)
}
