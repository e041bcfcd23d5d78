/**
 * The original game_socket server example, written with game-socket:
 * `deno run --allow-net examples/server.ts` (port 3103).
 */

import { GameSocketServer } from "../server.ts";

const server = new GameSocketServer({ port: 3103, allowRaw: true });
const home = server.of("/home");

server.on("connection", (socket) => {
  console.log(`/: connection ${socket.id} from ${socket.handshake.address.hostname}`);
  socket.on("disconnecting", (reason) => console.log(`/: disconnecting ${socket.id} ${reason}`));
  socket.on("disconnect", (reason) => console.log(`/: disconnect ${socket.id} ${reason}`));
  socket.on("error", (error) => console.log(`/: error ${error}`));
  socket.on("raw", (data) => console.log(`/: raw ${data.length} bytes`));
});
server.root.on("room_created", (room) => console.log(`/: createRoom ${room.name}`));
server.root.on("room_joined", (room, member) => {
  console.log(`/: joinRoom [${room.name}, ${member.socketId}]`);
});
server.root.on("room_left", (room, member) => {
  console.log(`/: leaveRoom [${room.name}, ${member.socketId}]`);
});
server.root.on("room_deleted", (room) => console.log(`/: deleteRoom ${room.name}`));
server.on("error", (error) => console.log(`/: eventError ${error}`));
server.on("close", () => console.log("/: serverClose"));

home.on("connection", (socket) => {
  console.log(`/home: connect ${socket.id}`);
  socket.on("hello", (message, { room }) => {
    console.log(`/home: hello ${JSON.stringify(message)} to ${room}`);
    if (room !== undefined && socket.rooms.has(room)) {
      home.to(room).emit("hello", message, { sender: socket.id });
    }
  });
});

const { hostname, port } = await server.listen();
console.log(`listen ${hostname}:${port} { raw: true, closeOnError: false }`);
