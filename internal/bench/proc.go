//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// sysconf(_SC_CLK_TCK) needs cgo; on Linux the value exported through /proc
// is fixed at 100 on every architecture, whatever the kernel's HZ.
const clockTicks = 100

// procCPU returns the user and system CPU time consumed so far by every
// thread (live or exited) of process pid, from /proc/<pid>/stat.
func procCPU(pid int) (user, sys time.Duration, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(data)
}

// parseStat extracts utime and stime (fields 14 and 15) from the content of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// itself contain spaces and parentheses, so fields are counted from the last
// ')'.
func parseStat(data []byte) (user, sys time.Duration, err error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc stat: no command name")
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, 0, fmt.Errorf("/proc stat: %d fields after the command name", len(fields))
	}
	u, err1 := strconv.ParseUint(fields[utime], 10, 64)
	s, err2 := strconv.ParseUint(fields[stime], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("/proc stat: utime or stime is not a number")
	}
	tick := time.Second / clockTicks
	return time.Duration(u) * tick, time.Duration(s) * tick, nil
}

// memStatus is what the bench reads from /proc/<pid>/status.
type memStatus struct {
	RSS int64 // VmRSS, bytes
	HWM int64 // VmHWM (peak resident set size), bytes
}

func procMem(pid int) (memStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	return parseStatus(data)
}

// parseStatus reads VmRSS and VmHWM (in kB) from /proc/<pid>/status.
func parseStatus(data []byte) (memStatus, error) {
	var m memStatus
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc status: unexpected %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status: %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		found++
	}
	if found != 2 {
		// A zombie (exited, not yet reaped) has no Vm* lines.
		return m, errors.New("/proc status: no VmRSS/VmHWM (process exited?)")
	}
	return m, nil
}

// selfCPU is the user+system CPU time of this process (the simulator and the
// bench's own sampling), excluding children.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Machine describes where the numbers were taken.
type Machine struct {
	NumCPU    int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	OSArch    string `json:"os_arch"`
	Kernel    string `json:"kernel,omitempty"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load when the run
	// started: other work on the machine skews every figure.
	LoadAvg string `json:"loadavg,omitempty"`
}

func machine() Machine {
	m := Machine{
		NumCPU:    runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:  "unknown",
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}
