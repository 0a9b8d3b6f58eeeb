// Minimal socket.io relay, the shape of the original Node service minus auth and storage:
// each socket joins `user:<id>`; send_message is confirmed to the sender and relayed to the room.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 3100);
const server = http.createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 200 : 404, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ status: "healthy" }));
});
const io = new Server(server, { cors: { origin: "*" } });

io.on("connection", (socket) => {
  const user = socket.handshake.auth && socket.handshake.auth.userId;
  if (typeof user !== "string") return socket.disconnect(true);
  socket.join(`user:${user}`);
  socket.on("send_message", (data, ack) => {
    const now = new Date().toISOString();
    const message = { ...data, senderId: user, createdAt: now };
    socket.emit("message_sent", { tempId: data.tempId, messageId: data.tempId, timestamp: now });
    io.to(`user:${data.receiverId}`).emit("new_message", message);
    if (typeof ack === "function") ack({ ok: true });
  });
});

server.listen(port, "127.0.0.1", () => console.log(`relay ready on ${port}`));
