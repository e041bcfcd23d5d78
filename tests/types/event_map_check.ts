// Type-level checks of typed event maps for `deno check` (not a test: nothing here runs or connects).
import { GameSocketServer, type ServerSocket } from "../../server.ts";
import { type ClientSocket, GameSocketClient } from "../../client.ts";

/** What the server sends. */
interface ServerToClient {
  welcome: (message: string) => void;
  state: (state: { x: number; y: number }) => void;
  tick: () => void;
  vote: (question: string) => boolean;
}

/** What clients send. */
interface ClientToServer {
  chat: (text: string) => void;
  move: (move: { dx: number; dy: number }) => void;
  ready: () => void;
  score: (player: string) => number;
  slowScore: (player: string) => Promise<number>;
}

/** The server's side: `on` hears ClientToServer, `emit` sends ServerToClient. */
export function useServer(): void {
  const server = new GameSocketServer<ClientToServer, ServerToClient>({ port: 0 });
  const game = server.of("/game");
  game.on("connection", (socket: ServerSocket<ClientToServer, ServerToClient>) => {
    socket.emit("welcome", "hello");
    socket.emit("state", { x: 1, y: 2 }, { volatile: true });
    socket.emit("tick");
    socket.on("chat", (text, info) => {
      const checked: string = text;
      if (info.room !== undefined) socket.to(info.room).emit("welcome", checked);
    });
    socket.on("move", ({ dx, dy }) => void (dx + dy));
    socket.on("ready", (nothing) => {
      const none: undefined = nothing;
      return none;
    });
    socket.on("score", (player) => player.length);
    socket.on("slowScore", async (player) => await Promise.resolve(player.length));
    socket.on("disconnect", (reason) => void reason);

    // @ts-expect-error: no event of that name
    socket.emit("welcom", "hello");
    // @ts-expect-error: the payload is a string
    socket.emit("welcome", 42);
    // @ts-expect-error: the payload is missing
    socket.emit("welcome");
    // @ts-expect-error: "tick" carries no payload
    socket.emit("tick", "extra");
    // @ts-expect-error: a handler of "chat" gets a string
    socket.on("chat", (text: number) => void text);
    // @ts-expect-error: "score" replies with a number
    socket.on("score", () => "not a number");
    // @ts-expect-error: clients do not send "welcome"
    socket.on("welcome", () => {});
  });
  game.to("lobby").emit("state", { x: 0, y: 0 });
  // @ts-expect-error: broadcasts are checked too
  game.to("lobby").emit("state", { x: "0", y: 0 });

  async function ask(socket: ServerSocket<ClientToServer, ServerToClient>): Promise<void> {
    const yes: boolean = await socket.emitWithAck("vote", "continue?", { timeout: 100 });
    // @ts-expect-error: the reply to "vote" is a boolean
    const count: number = await socket.emitWithAck("vote", "continue?");
    const results = await game.emitWithAck("vote", "again?");
    for (const result of results) if (result.ok) void (result.value satisfies boolean);
    void [yes, count];
  }
  void ask;
}

/** The client's side: `on` hears ServerToClient, `emit` sends ClientToServer. */
export async function useClient(): Promise<void> {
  const client = new GameSocketClient<ServerToClient, ClientToServer>();
  const root = await client.connect("127.0.0.1", 3103);
  const game: ClientSocket<ServerToClient, ClientToServer> = await client.of("/game").ready;
  root.emit("chat", "hi");
  game.emit("move", { dx: 1, dy: 0 }, { volatile: true });
  game.emit("ready");
  game.to("lobby").emit("chat", "hello all");
  game.on("welcome", (message, { sender }) => void [message satisfies string, sender]);
  game.on("vote", (question) => question.length > 0);
  const score: number = await game.emitWithAck("score", "ann");
  const later: number = await game.emitWithAck("slowScore", "ann");
  void [score, later];

  // @ts-expect-error: no event of that name
  game.emit("mov", { dx: 1, dy: 0 });
  // @ts-expect-error: the payload's fields are numbers
  game.emit("move", { dx: "1", dy: 0 });
  // @ts-expect-error: the payload is missing
  game.emit("chat");
  // @ts-expect-error: a handler of "state" gets an object
  game.on("state", (state: string) => void state);
  // @ts-expect-error: "vote" replies with a boolean
  game.on("vote", () => 1);
  // @ts-expect-error: the reply to "score" is a number
  const wrong: string = await game.emitWithAck("score", "ann");
  // @ts-expect-error: room events are checked too
  game.to("lobby").emit("chat", 1);
  void wrong;
}
