module sockstep

go 1.26.0

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/chromedp/chromedp v0.23.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/hack-pad/hackpadfs v0.2.4 // indirect
	github.com/traefik/yaegi v0.16.1 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
