// The HTTP/1.1 mode (--protocol http), as protocol/ defines it (docs/http.md): the same answers
// as the Zen protocol, behind GET /beautiful, /explicit and /simple. It is hand-written rather
// than net/http's, because the point is the same bytes as every other archbench server (no Date
// or Server header, these limits and refusals), over the same one-goroutine-per-client loop.
package main

import (
	"bytes"
	"strconv"
)

var httpAnswers = map[string]string{
	"/beautiful": "Ugly.",
	"/explicit":  "Implicit.",
	"/simple":    "Complex.",
}

var reasons = map[int]string{200: "OK", 404: "Not Found", 400: "Bad Request",
	405: "Method Not Allowed", 431: "Request Header Fields Too Large"}

// httpConversation frames one client's bytes into request heads (up to the blank line).
type httpConversation struct {
	conversation        // its config, padding and answered count
	held         []byte // the start of a head whose blank line has not arrived
}

func (c *httpConversation) appendResponse(out []byte, code int, answer string, close bool) []byte {
	bodyLength := len(answer)
	if bodyLength < c.cfg.replyBytes {
		bodyLength = c.cfg.replyBytes
	}
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, reasons[code]...)
	out = append(out, "\r\nContent-Type: text/plain\r\n"...)
	if code == 405 {
		out = append(out, "Allow: GET\r\n"...)
	}
	out = append(out, "Content-Length: "...)
	out = strconv.AppendInt(out, int64(bodyLength), 10)
	out = append(out, "\r\n"...)
	if close {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	return c.appendAnswer(out, answer)
}

// onInput appends the responses to every head `in` completes; closing: the last one says the
// server closes (an error, or a request that asked for it), and the rest of the input is dropped.
func (c *httpConversation) onInput(in, out []byte) (_ []byte, closing bool) {
	buffer := in
	if len(c.held) > 0 {
		buffer = append(c.held, in...)
	}
	limit := c.cfg.maxRequest
	for {
		buffer = bytes.TrimLeft(buffer, "\r\n") // CR/LF before a request line are skipped
		if len(buffer) == 0 {
			c.held = c.held[:0]
			return out, false
		}
		window := buffer
		if len(window) > limit {
			window = window[:limit] // the head must end within --max-request bytes
		}
		end := headEnd(window)
		if end < 0 {
			if len(buffer) >= limit {
				return c.appendResponse(out, 431, tooLongAnswer, true), true
			}
			c.held = append(c.held[:0], buffer...)
			return out, false
		}
		var answered bool
		out, answered, closing = c.answer(buffer[:end], out)
		if answered {
			c.answered++
		}
		if closing {
			return out, true
		}
		buffer = buffer[end:]
	}
}

// headEnd is the length of the head through its blank line ("\n\n" or "\n\r\n"), or -1.
func headEnd(window []byte) int {
	end := -1
	if i := bytes.Index(window, []byte("\n\n")); i >= 0 {
		end = i + 2
	}
	if i := bytes.Index(window, []byte("\n\r\n")); i >= 0 && (end < 0 || i+3 < end) {
		end = i + 3
	}
	return end
}

// answer appends the response to one complete head.
func (c *httpConversation) answer(head, out []byte) (_ []byte, answered, closing bool) {
	method, target, close, ok := parseHead(head)
	if !ok {
		return c.appendResponse(out, 400, "Error: bad request.", true), false, true
	}
	if method != "GET" {
		return c.appendResponse(out, 405, "Error: method not allowed.", true), false, true
	}
	c.doWork() // once per GET answered, never for a refusal
	if answer, known := httpAnswers[target]; known {
		return c.appendResponse(out, 200, answer, close), true, close
	}
	return c.appendResponse(out, 404, unknownAnswer, close), true, close
}

// parseHead reads a complete head; ok is false when it is malformed (a request line not of
// three parts, an unknown version, a header line with no ':' or starting with a space or tab, a
// control byte but tab in a line) or announces a body (Content-Length not 0, Transfer-Encoding).
func parseHead(head []byte) (method, target string, close, ok bool) {
	lines := bytes.Split(head, []byte("\n"))
	lines = lines[:len(lines)-2] // the blank line, and the nothing after its LF
	for i, line := range lines {
		line = bytes.TrimSuffix(line, []byte("\r"))
		lines[i] = line
		for _, b := range line {
			if (b < 0x20 && b != '\t') || b == 0x7f {
				return "", "", false, false
			}
		}
	}
	parts := bytes.Split(lines[0], []byte(" "))
	if len(parts) != 3 || len(parts[0]) == 0 || len(parts[1]) == 0 {
		return "", "", false, false
	}
	version := string(parts[2])
	if version != "HTTP/1.0" && version != "HTTP/1.1" {
		return "", "", false, false
	}
	closeToken, keepAlive := false, false
	for _, line := range lines[1:] {
		colon := bytes.IndexByte(line, ':')
		if colon < 0 || line[0] == ' ' || line[0] == '\t' {
			return "", "", false, false
		}
		name := string(bytes.ToLower(line[:colon]))
		value := bytes.Trim(line[colon+1:], " \t")
		switch name {
		case "connection":
			for _, token := range bytes.Split(value, []byte(",")) {
				switch string(bytes.ToLower(bytes.Trim(token, " \t"))) {
				case "close":
					closeToken = true
				case "keep-alive":
					keepAlive = true
				}
			}
		case "content-length":
			if n, err := strconv.ParseUint(string(value), 10, 64); err != nil || n != 0 ||
				bytes.ContainsAny(value, "+-") {
				return "", "", false, false
			}
		case "transfer-encoding":
			return "", "", false, false
		}
	}
	close = closeToken || (version == "HTTP/1.0" && !keepAlive)
	return string(parts[0]), string(parts[1]), close, true
}
