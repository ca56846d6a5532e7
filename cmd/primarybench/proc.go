package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuSample is the CPU time used so far by primaryd, by PostgreSQL (the
// postmaster, its live processes and the ones that have exited) and by this
// process, the load tester.
type cpuSample struct {
	primaryd, postgres, self time.Duration
}

func sampleCPU(primaryd int, pgdata string) (cpuSample, error) {
	var s cpuSample
	own, _, err := procCPU(primaryd)
	if err != nil {
		return s, fmt.Errorf("primaryd's CPU: %w", err)
	}
	s.primaryd = own
	if pgdata == "" {
		return s, nil
	}
	pidFile, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return s, fmt.Errorf("PostgreSQL's postmaster: %w", err)
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0]))
	if err != nil {
		return s, fmt.Errorf("%s/postmaster.pid: %w", pgdata, err)
	}
	own, exited, err := procCPU(postmaster)
	if err != nil {
		return s, fmt.Errorf("PostgreSQL's CPU: %w", err)
	}
	s.postgres = own + exited
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentOf(pid); err == nil && ppid == postmaster {
			if own, _, err := procCPU(pid); err == nil {
				s.postgres += own
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s, nil
}

// since is the CPU used between before and s, over a window of wall time in
// which votes were acknowledged.
func (s cpuSample) since(before cpuSample, window time.Duration, votes int) cpuReport {
	r := cpuReport{
		WindowS:     window.Seconds(),
		PrimarydS:   (s.primaryd - before.primaryd).Seconds(),
		PostgresS:   (s.postgres - before.postgres).Seconds(),
		LoadTesterS: (s.self - before.self).Seconds(),
	}
	if votes > 0 {
		r.PrimarydMsPerVote = 1000 * r.PrimarydS / float64(votes)
		r.PostgresMsPerVote = 1000 * r.PostgresS / float64(votes)
		r.ServerMsPerVote = r.PrimarydMsPerVote + r.PostgresMsPerVote
	}
	return r
}

// statFields returns the fields of /proc/PID/stat after the command name,
// which may itself hold spaces: fields[0] is the state (field 3).
func statFields(pid int) ([]string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return f, nil
}

// procCPU returns a process's own CPU time (utime + stime) and that of its
// exited, reaped children (cutime + cstime).
func procCPU(pid int) (own, children time.Duration, err error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, 0, err
	}
	ticks := make([]int64, 4) // fields 14-17
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	tick := time.Second / clockTicks
	return time.Duration(ticks[0]+ticks[1]) * tick, time.Duration(ticks[2]+ticks[3]) * tick, nil
}

func parentOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// peakRSS is a process's peak resident set size (VmHWM), in MiB.
func peakRSS(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
