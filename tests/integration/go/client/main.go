// SPDX-License-Identifier: MIT
//
// An HTTP client for test_psock_run_seccomp: GET the URL it is given and
// print the body. Go's runtime makes its own system calls, and (built with
// CGO_ENABLED=0) resolves host names itself: it reads /etc/resolv.conf and
// asks the name server over UDP. Under psock-run --mode=seccomp all of it
// goes over sockets psockd made, under psockd's policy.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: client URL")
		os.Exit(2)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Print(string(body))
}
